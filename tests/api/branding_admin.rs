//! Branding admin: admins only, validated field by field, every change versioned (who, when,
//! diff) and reversible, and new sessions on every replica get it within a second.

use std::time::{Duration, Instant};

use belvo_bff::auth::Role;
use serde_json::{json, Value};

use crate::console_helpers::{csrf_of, spawn_console, with_staff, ADMIN, SUPPORT};
use crate::helpers::{base_settings, location, spawn_settings, StoreKind, TestApp};

const LOGO: &str = "https://cdn.acme.mx/logo.svg";

fn form<'a>(
    csrf: &'a str,
    version: &'a str,
    logo: &'a str,
    color: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("version", version),
        ("action", "save"),
        ("company_name", "ACME"),
        ("company_logo", logo),
        ("overlay_background_color", color),
        ("social_proof", ""),
        ("theme", "--colorPrimary: #0663F9"),
    ]
}

async fn branding_of_new_session(app: &TestApp) -> Value {
    let session = app.open("maria", "mx_employment", "ios").await;
    let request = app
        .token_request_for(session["widget_url"].as_str().unwrap())
        .await;
    request["widget"].clone()
}

#[tokio::test]
async fn support_staff_get_403_on_admin_pages_and_api() {
    let app = spawn_console().await;
    let client = app.signed_in(SUPPORT).await;
    for path in [
        "/admin/branding",
        "/admin/branding/mx_employment",
        "/admin/audit",
    ] {
        let (status, body) = app.page(&client, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("Admins only"));
    }
    let (_, page) = app.page(&client, "/support").await;
    let response = client
        .post(app.url("/admin/branding/mx_employment"))
        .form(&form(&csrf_of(&page), "0", LOGO, "#112233"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = app
        .client
        .put(app.url("/v1/admin/branding/mx_employment"))
        .bearer_auth(app.staff_token("sofia", Role::Support))
        .json(&json!({"branding": {"company_name": "Nope"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(branding_of_new_session(&app).await["branding"]["company_name"] == "ACME");
}

#[tokio::test]
async fn an_admin_saves_branding_and_the_next_session_sends_it_to_belvo() {
    let app = spawn_console().await;
    let client = app.signed_in(ADMIN).await;
    let (status, page) = app.page(&client, "/admin/branding/mx_employment").await;
    assert_eq!(status, 200);
    let response = client
        .post(app.url("/admin/branding/mx_employment"))
        .form(&form(&csrf_of(&page), "0", LOGO, "#112233"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/branding/mx_employment?saved=1");

    let widget = branding_of_new_session(&app).await;
    assert_eq!(widget["branding"]["company_logo"], LOGO);
    assert_eq!(widget["branding"]["overlay_background_color"], "#112233");
    assert_eq!(
        widget["theme"],
        json!([{"css_key": "--colorPrimary", "value": "#0663F9"}])
    );

    let (_, page) = app
        .page(&client, "/admin/branding/mx_employment?saved=1")
        .await;
    assert!(page.contains("Saved as version 1."));
    assert!(
        page.contains("/admin/branding/preview.css?color=%23112233"),
        "the preview shows the color"
    );
    assert!(
        page.contains(&format!("src=\"{LOGO}\"")),
        "the preview shows the logo"
    );
}

#[tokio::test]
async fn invalid_fields_are_explained_next_to_each_field_and_nothing_is_saved() {
    let app = spawn_console().await;
    let client = app.signed_in(ADMIN).await;
    let (_, page) = app.page(&client, "/admin/branding/mx_employment").await;
    let response = client
        .post(app.url("/admin/branding/mx_employment"))
        .form(&form(
            &csrf_of(&page),
            "0",
            "http://cdn.acme.mx/logo.svg",
            "blue",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("id=\"company_logo-error\""), "{body}");
    assert!(body.contains("must be an https:// URL"));
    assert!(body.contains("id=\"overlay_background_color-error\""));
    assert!(
        body.contains("value=\"http://cdn.acme.mx/logo.svg\""),
        "what was typed is kept"
    );
    assert!(!body.contains("id=\"company_name-error\""));
    assert!(branding_of_new_session(&app).await["branding"]
        .get("company_logo")
        .is_none());
}

#[tokio::test]
async fn a_form_posted_without_the_csrf_token_is_refused() {
    let app = spawn_console().await;
    let client = app.signed_in(ADMIN).await;
    for csrf in ["", "forged"] {
        let response = client
            .post(app.url("/admin/branding/mx_employment"))
            .form(&form(csrf, "0", LOGO, "#112233"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(response.text().await.unwrap().contains("Form refused"));
    }
    assert!(branding_of_new_session(&app).await["branding"]
        .get("company_logo")
        .is_none());
}

#[tokio::test]
async fn preview_without_javascript_shows_the_draft_without_saving_it() {
    let app = spawn_console().await;
    let client = app.signed_in(ADMIN).await;
    let (_, page) = app.page(&client, "/admin/branding/mx_employment").await;
    let csrf = csrf_of(&page);
    let mut fields = form(&csrf, "0", LOGO, "#AB12CD");
    fields[2] = ("action", "preview");
    let response = client
        .post(app.url("/admin/branding/mx_employment"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("Preview only"));
    assert!(body.contains("preview.css?color=%23AB12CD"));
    let css = app
        .client
        .get(app.url("/admin/branding/preview.css?color=%23AB12CD"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        css.text().await.unwrap(),
        "#preview-overlay { background-color: #AB12CD; }\n"
    );
    assert!(branding_of_new_session(&app).await["branding"]
        .get("company_logo")
        .is_none());
}

#[tokio::test]
async fn history_keeps_who_when_and_what_and_rollback_restores() {
    let app = spawn_console().await;
    let client = app.signed_in(ADMIN).await;
    let (_, page) = app.page(&client, "/admin/branding/mx_employment").await;
    let csrf = csrf_of(&page);
    for (version, color) in [("0", "#112233"), ("1", "#445566")] {
        let response = client
            .post(app.url("/admin/branding/mx_employment"))
            .form(&form(&csrf, version, LOGO, color))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
    }
    let (_, page) = app.page(&client, "/admin/branding/mx_employment").await;
    assert!(page.contains("id=\"version-2\"") && page.contains("id=\"version-0\""));
    assert!(page.contains("<del>#112233</del>") && page.contains("<ins>#445566</ins>"));
    assert!(page.contains("adam"));

    // A stale form (someone saved since) is refused rather than overwriting.
    let response = client
        .post(app.url("/admin/branding/mx_employment"))
        .form(&form(&csrf, "1", LOGO, "#778899"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("someone saved version 2"));

    let response = client
        .post(app.url("/admin/branding/mx_employment/rollback"))
        .form(&[("csrf", csrf.as_str()), ("version", "2"), ("to", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let widget = branding_of_new_session(&app).await;
    assert_eq!(
        widget["branding"],
        json!({"company_name": "ACME"}),
        "the configuration's look"
    );
    assert!(widget.get("theme").is_none());
    let (_, page) = app.page(&client, "/admin/branding/mx_employment").await;
    assert!(page.contains("rollback to v0"));
}

#[tokio::test]
async fn the_api_reads_and_writes_branding_with_etags() {
    let app = spawn_console().await;
    let token = app.staff_token("ci-bot", Role::Admin);
    let url = app.url("/v1/admin/branding/br_ofda");
    let response = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"0\"");
    let current: Value = response.json().await.unwrap();
    assert_eq!(current["branding"]["company_name"], "ACME");

    let body = json!({
        "branding": {"company_name": "ACME Brasil", "company_logo": LOGO, "social_proof": false},
        "theme": [{"css_key": "--colorPrimary", "value": "#00AA55"}]
    });
    let put = |if_match: &'static str| {
        app.client
            .put(&url)
            .bearer_auth(&token)
            .header("if-match", if_match)
            .json(&body)
            .send()
    };
    let response = put("\"0\"").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let saved: Value = response.json().await.unwrap();
    assert_eq!(saved["changed"], true);
    assert_eq!(saved["updated_by"], "ci-bot");
    assert_eq!(put("\"0\"").await.unwrap().status(), 412, "a stale ETag");

    let response = app
        .client
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"branding": {"company_icon": "javascript:alert(1)", "overlay_background_color": "#12"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_branding");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("company_icon") && message.contains("overlay_background_color"));

    let response = app
        .client
        .put(&url)
        .bearer_auth(&token)
        .json(
            &json!({"branding": {"company_logo": "https://169.254.169.254/latest/meta-data",
            "company_terms_url": "https://intranet.local/terms"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        400,
        "IP literals and local names are refused"
    );
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("company_logo") && message.contains("company_terms_url"),
        "{message}"
    );

    let session = app.open("maria", "br_ofda", "ios").await;
    let widget = &app
        .token_request_for(session["widget_url"].as_str().unwrap())
        .await["widget"];
    assert_eq!(widget["branding"]["company_name"], "ACME Brasil");
    assert_eq!(widget["branding"]["social_proof"], false);
    assert_eq!(widget["theme"][0]["value"], "#00AA55");

    for path in [
        "/v1/admin/branding/nope",
        "/v1/admin/branding/Not%20A%20Product",
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["message"], "product not found", "{path}");
    }
}

#[tokio::test]
async fn a_console_session_needs_the_csrf_header_to_use_the_api() {
    let app = spawn_console().await;
    let client = app.signed_in(ADMIN).await;
    let url = app.url("/v1/admin/branding/mx_employment");
    let body = json!({"branding": {"company_name": "From the console"}});
    let response = client.put(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let (_, page) = app.page(&client, "/admin/branding").await;
    let response = client
        .put(&url)
        .header("x-csrf-token", csrf_of(&page))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn every_replica_serves_new_branding_within_a_second() {
    // Two servers sharing one Redis, as two replicas behind a load balancer.
    let mut settings = base_settings(StoreKind::Redis);
    with_staff(&mut settings);
    let first = spawn_settings(settings.clone()).await;
    let second = spawn_settings(settings).await;
    assert_eq!(
        branding_of_new_session(&second).await["branding"]["company_name"],
        "ACME"
    );

    let response = first
        .client
        .put(first.url("/v1/admin/branding/mx_employment"))
        .bearer_auth(first.staff_token(ADMIN, Role::Admin))
        .json(&json!({"branding": {"company_name": "Replicated"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let saved_at = Instant::now();
    loop {
        let name = branding_of_new_session(&second).await["branding"]["company_name"].clone();
        if name == "Replicated" {
            break;
        }
        assert!(
            saved_at.elapsed() < Duration::from_secs(1),
            "the other replica still sends {name}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
