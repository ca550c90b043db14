//! The support console answers "why couldn't this user connect?": search by any id the desk has,
//! a timeline that explains Belvo's codes and shows Belvo's raw values escaped, and an audit trail.

use belvo_bff::auth::Role;

use crate::console_helpers::{spawn_console, ADMIN, SUPPORT};
use crate::helpers::{param, TestApp, LINK_ID};

const LOGIN_ERROR_EXIT: &str = "last_encountered_error_code=login_error&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the%20institution&meta_data_institution_name=imss_mx_employment&meta_data_step=abandon-survey";

/// Opens a session for `sub` and ends it with a login_error exit; returns (session id, external id).
async fn failed_login(app: &TestApp, sub: &str) -> (String, String) {
    let session = app.open(sub, "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let widget = app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let external_id = param(&widget, "external_id").unwrap();
    assert_eq!(
        app.callback(&id, "exit", LOGIN_ERROR_EXIT).await.status(),
        302
    );
    (id, external_id)
}

#[tokio::test]
async fn search_finds_a_session_by_external_id_user_id_session_id_and_link_id() {
    let app = spawn_console().await;
    let (failed, external_id) = failed_login(&app, "maria@example.com").await;
    let (connected, link) = app
        .connect("maria@example.com", "mx_employment", "imss_mx_employment")
        .await;
    let client = app.signed_in(SUPPORT).await;

    for q in [external_id.as_str(), "maria@example.com"] {
        let (status, body) = app
            .page(&client, &format!("/support?q={}", urlencode(q)))
            .await;
        assert_eq!(status, 200);
        assert!(
            body.contains(&format!("/support/sessions/{failed}")),
            "{q}: {body}"
        );
        assert!(
            body.contains(&format!("/support/sessions/{connected}")),
            "{q}"
        );
        assert!(body.contains(&format!("/support/links/{link}")), "{q}");
        assert!(body.contains("badge-exited") && body.contains("login_error"));
    }
    let (_, body) = app.page(&client, "/support?q=maria%40example.com").await;
    assert!(body.contains("App user id"), "matched as a hashed user id");

    let (_, body) = app.page(&client, &format!("/support?q={failed}")).await;
    assert!(body.contains("Session <code>"), "{body}");
    assert!(
        body.contains(&format!("/support?q={external_id}")),
        "links to the user"
    );

    let (_, body) = app.page(&client, &format!("/support?q={link}")).await;
    assert!(body.contains("Link <code>"));
    assert!(body.contains(&format!("/support/sessions/{connected}")));

    let (_, body) = app.page(&client, "/support?q=nobody%40example.com").await;
    assert!(body.contains("id=\"no-results\""));
}

#[tokio::test]
async fn timeline_explains_a_login_error_in_the_staff_language() {
    let app = spawn_console().await;
    let (id, external_id) = failed_login(&app, "maria").await;
    let client = app.signed_in(SUPPORT).await;
    let (status, body) = app.page(&client, &format!("/support/sessions/{id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"status\">exited<"));
    assert!(body.contains("Logging in to the institution failed with the details given."));
    assert!(body.contains("Check your login details"));
    assert!(
        body.contains("Invalid credentials provided to login to the institution"),
        "raw message"
    );
    assert!(body.contains("abandon-survey"));
    assert!(
        body.contains(&format!("href=\"/support?q={external_id}\"")),
        "links to the user"
    );

    let (_, body) = app
        .page(&client, &format!("/support/sessions/{id}?lang=es"))
        .await;
    assert!(body.contains("No se pudo iniciar sesión en la institución con esos datos."));
    let response = client
        .get(app.url(&format!("/support/sessions/{id}")))
        .header("accept-language", "pt-BR")
        .send()
        .await
        .unwrap();
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Não foi possível entrar na instituição"));
}

#[tokio::test]
async fn raw_belvo_values_are_escaped_and_the_page_forbids_inline_script() {
    let app = spawn_console().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    let query = "last_encountered_error_code=login_error&last_encountered_error_message=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    assert_eq!(app.callback(id, "exit", query).await.status(), 302);

    let client = app.signed_in(SUPPORT).await;
    let response = client
        .get(app.url(&format!("/support/sessions/{id}")))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    let body = response.text().await.unwrap();
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script>alert(1)"));
}

#[tokio::test]
async fn a_connected_session_shows_resources_and_verification() {
    let app = spawn_console().await;
    let (id, link) = app
        .connect("maria", "br_employment", "inss_br_employment")
        .await;
    app.status_until_resources("maria", &id).await;
    let client = app.signed_in(SUPPORT).await;
    let mut body = String::new();
    for _ in 0..40 {
        body = app
            .page(&client, &format!("/support/sessions/{id}"))
            .await
            .1;
        if body.contains("Verified:") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        body.contains("Verified: Belvo&#x27;s record of the link belongs to this user."),
        "{body}"
    );
    assert!(body.contains("EMPLOYMENTS") && body.contains("OWNERS"));
    assert!(body.contains("badge-res-ready"));
    assert!(body.contains("webhook"), "webhooks are on the timeline");
    assert!(body.contains(&format!("href=\"/support/links/{link}\"")));

    let (status, body) = app.page(&client, &format!("/support/links/{link}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("historical_update"));
    assert!(body.contains(&format!("/support/sessions/{id}")));
}

#[tokio::test]
async fn unknown_sessions_and_links_are_404_pages() {
    let app = spawn_console().await;
    let client = app.signed_in(SUPPORT).await;
    for path in [
        "/support/sessions/3d477c4d-20d7-4748-976a-5548616620d3".to_owned(),
        "/support/sessions/not-an-id".to_owned(),
        format!("/support/links/{LINK_ID}"),
    ] {
        let (status, body) = app.page(&client, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("Not found"));
    }
}

#[tokio::test]
async fn every_staff_action_is_in_the_audit_log() {
    let app = spawn_console().await;
    let (id, external_id) = failed_login(&app, "maria@example.com").await;
    let support = app.signed_in(SUPPORT).await;
    app.page(&support, "/support?q=maria%40example.com").await;
    app.page(&support, &format!("/support/sessions/{id}")).await;
    app.page(&support, "/admin/branding").await;

    let (status, body) = app.page(&crate::helpers::client(), "/admin/audit").await;
    assert_eq!(status, 303, "the audit log is not public");
    let response = app
        .client
        .get(app.url("/admin/audit"))
        .bearer_auth(app.staff_token(ADMIN, Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{body}");
    let log = response.text().await.unwrap();
    for expected in [
        "sign_in",
        "ok_password",
        "search",
        &format!("App user id {external_id}"),
        "view_session",
        &id,
        "admin_page",
        "denied",
    ] {
        assert!(
            log.contains(expected),
            "{expected} missing from the audit log"
        );
    }
    assert!(
        !log.contains("maria@example.com"),
        "raw user ids stay out of the log"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn an_unreadable_record_is_a_500_with_its_own_code_not_a_503_to_retry_forever() {
    let app = spawn_console().await;
    let (id, _) = failed_login(&app, "maria").await;
    let keys = belvo_bff::store::Keys::new(&app.settings.store.key_prefix);
    let mut redis = app.redis_conn().await;
    let _: i64 = redis::cmd("LPUSH")
        .arg(keys.audit_log(belvo_bff::store::AuditLog::Staff))
        .arg("{not json")
        .query_async(&mut redis)
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url("/admin/audit"))
        .bearer_auth(app.staff_token(ADMIN, Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    assert!(response.text().await.unwrap().contains("cannot be read"));

    // A session whose status is not one the server knows.
    let session_id = belvo_bff::domain::ids::SessionId::parse(&id).unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(keys.session(&session_id))
        .arg("status")
        .arg("bogus")
        .query_async(&mut redis)
        .await
        .unwrap();
    let response = app.get_status("maria", &id).await;
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "corrupt_record");
}
