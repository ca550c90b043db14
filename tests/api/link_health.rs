//! Link health through the API (SPEC §11): the emulator breaks a link as Belvo would (LINK
//! webhook, refused data calls, a deleted record), the app sees `health`, data calls answer
//! 409 / 410, and a check of Belvo's record clears what the user fixed elsewhere.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, stub_server, StoreKind, TestApp};

const STORES: [StoreKind; 3] = [StoreKind::Memory, StoreKind::Redis, StoreKind::Cluster];

async fn call(app: &TestApp, method: reqwest::Method, sub: &str, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(app.token(sub))
        .header("Accept-Language", "es")
        .send()
        .await
        .unwrap()
}

async fn link(app: &TestApp, sub: &str, id: &str) -> Value {
    let response = call(app, reqwest::Method::GET, sub, &format!("/v1/links/{id}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the link's health is `health` (a webhook, or the link's confirmation, is on its
/// way).
async fn until_health(app: &TestApp, sub: &str, id: &str, health: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = call(app, reqwest::Method::GET, sub, &format!("/v1/links/{id}")).await;
        let link: Value = response.json().await.unwrap();
        if link["health"] == health {
            return link;
        }
        assert!(Instant::now() < deadline, "still {link}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Maria's data call on the link (its owners).
async fn owners(app: &TestApp, id: &str) -> reqwest::Response {
    call(
        app,
        reqwest::Method::GET,
        "maria",
        &format!("/v1/links/{id}/owners"),
    )
    .await
}

async fn check(app: &TestApp, sub: &str, id: &str) -> reqwest::Response {
    call(
        app,
        reqwest::Method::POST,
        sub,
        &format!("/v1/links/{id}/check"),
    )
    .await
}

#[tokio::test]
async fn a_changed_password_needs_a_reconnect_until_belvo_reads_valid_again() {
    for store in STORES {
        let app = spawn_app_with(store, |_| {}).await;
        let id = app.api_link("maria").await;
        let fresh = link(&app, "maria", &id).await;
        assert_eq!(fresh["health"], "ok", "{store:?}");
        assert_eq!(fresh["health_reason"], Value::Null);
        assert!(
            fresh["checked_at"].is_string(),
            "created = Belvo's record read"
        );

        app.emulator_control(&id, "break", json!({"reason": "invalid_credentials"}))
            .await;
        let broken = until_health(&app, "maria", &id, "needs_reconnect").await;
        let reason = &broken["health_reason"];
        assert_eq!(reason["code"], "invalid_credentials");
        assert_eq!(
            reason["message"],
            "Invalid credentials provided to login to the institution"
        );
        assert_eq!(
            reason["explanation"]["user_action"],
            "Vuelve a conectar tu cuenta desde la app."
        );
        assert!(broken["health_changed_at"].is_string());

        let data = owners(&app, &id).await;
        assert_eq!(data.status(), 409);
        let body: Value = data.json().await.unwrap();
        assert_eq!(body["error"]["code"], "link_needs_reconnect");

        let listed = |filter: &'static str| {
            let app = &app;
            async move {
                let r = call(
                    app,
                    reqwest::Method::GET,
                    "maria",
                    &format!("/v1/links{filter}"),
                )
                .await;
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, attention) = listed("?health=needs_reconnect").await;
        assert_eq!(status, 200);
        assert_eq!(attention["links"][0]["link_id"], id.as_str());
        assert_eq!(listed("?health=ok").await.1["links"], json!([]));
        let (status, bad) = listed("?health=broken").await;
        assert_eq!(status, 400);
        assert_eq!(bad["error"]["code"], "invalid_query");

        // The user fixed it elsewhere: Belvo's record reads valid, a check clears the problem.
        app.emulator_control(&id, "repair", json!({})).await;
        let checked = check(&app, "maria", &id).await;
        assert_eq!(checked.status(), 200);
        let checked: Value = checked.json().await.unwrap();
        assert_eq!(checked["health"], "ok", "{checked}");
        assert_eq!(checked["health_reason"], Value::Null);
        let data = owners(&app, &id).await;
        assert_eq!(data.status(), 200);

        let again = check(&app, "maria", &id).await;
        assert_eq!(again.status(), 429, "once a minute");
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_checks");
        assert!(body["error"]["retry_after"].as_u64().unwrap() > 0);
        assert_eq!(check(&app, "pedro", &id).await.status(), 404, "owner only");
    }
}

#[tokio::test]
async fn a_data_call_belvo_refuses_for_a_token_is_a_409_and_marks_the_link() {
    // The LINK webhook goes elsewhere: only the data call can tell.
    let sink = stub_server(|_| async { actix_web::HttpResponse::Ok().finish() });
    for store in STORES {
        let app = spawn_app_with(store, |s| {
            s.emulator.webhook_url = Some(sink.parse().unwrap());
        })
        .await;
        let id = app.api_link("maria").await;
        app.emulator_control(&id, "break", json!({"reason": "token_required"}))
            .await;
        assert_eq!(link(&app, "maria", &id).await["health"], "ok");
        let data = call(
            &app,
            reqwest::Method::GET,
            "maria",
            &format!("/v1/links/{id}/employments"),
        )
        .await;
        assert_eq!(data.status(), 409, "{store:?}");
        let after = link(&app, "maria", &id).await;
        assert_eq!(after["health"], "needs_reconnect");
        assert_eq!(after["health_reason"]["code"], "token_required");
    }
}

#[tokio::test]
async fn a_link_belvo_deleted_is_gone_and_its_data_410() {
    for store in STORES {
        let app = spawn_app_with(store, |_| {}).await;
        let id = app.api_link("maria").await;
        app.emulator_control(&id, "break", json!({"reason": "gone"}))
            .await;
        let checked = check(&app, "maria", &id).await;
        assert_eq!(checked.status(), 200, "{store:?}");
        let checked: Value = checked.json().await.unwrap();
        assert_eq!(checked["health"], "gone");
        assert_eq!(checked["health_reason"]["code"], "link_gone");
        let data = owners(&app, &id).await;
        assert_eq!(data.status(), 410);
        let body: Value = data.json().await.unwrap();
        assert_eq!(body["error"]["code"], "link_gone");
        // Kept read-only: still listed, with its health.
        let mine: Value = call(&app, reqwest::Method::GET, "maria", "/v1/links?health=gone")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(mine["links"][0]["link_id"], id.as_str());
    }
}

#[tokio::test]
async fn a_data_call_on_a_link_belvo_no_longer_has_finds_it_gone() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let id = app.api_link("maria").await;
    app.emulator_control(&id, "break", json!({"reason": "gone"}))
        .await;
    let data = owners(&app, &id).await;
    assert_eq!(data.status(), 410);
    assert_eq!(link(&app, "maria", &id).await["health"], "gone");
}

#[tokio::test]
async fn support_lists_the_links_needing_attention_and_shows_their_history() {
    use crate::console_helpers::{with_staff, SUPPORT};
    let app = spawn_app_with(StoreKind::Redis, with_staff).await;
    let id = app.api_link("maria").await;
    let healthy = app.api_link("pedro").await;
    app.emulator_control(&id, "break", json!({"reason": "invalid_credentials"}))
        .await;
    until_health(&app, "maria", &id, "needs_reconnect").await;

    let client = app.signed_in(SUPPORT).await;
    let (status, index) = app.page(&client, "/support").await;
    assert_eq!(status, 200);
    assert!(index.contains("href=\"/support/links?health=needs_reconnect\""));
    let (status, list) = app
        .page(&client, "/support/links?health=needs_reconnect")
        .await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("/support/links/{id}")), "{list}");
    assert!(!list.contains(&healthy), "only links needing attention");
    assert!(list.contains("invalid_credentials"));
    let (_, gone) = app.page(&client, "/support/links?health=gone").await;
    assert!(gone.contains("id=\"no-links\""));
    let (status, _) = app.page(&client, "/support/links?health=fine").await;
    assert_eq!(status, 404);

    let (status, page) = app
        .page(&client, &format!("/support/links/{id}?lang=pt"))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"health-now\">needs_reconnect<"),
        "{page}"
    );
    assert!(page.contains("id=\"health-history\""));
    assert!(page.contains("Conecte sua conta novamente pelo app."));
}

#[tokio::test]
async fn the_documented_health_is_the_six_values() {
    let doc = belvo_bff::routes::openapi_document();
    let doc = serde_json::to_value(doc).unwrap();
    let schemas = &doc["components"]["schemas"];
    let reference = schemas["Link"]["properties"]["health"]["$ref"]
        .as_str()
        .expect("Link.health names a schema");
    let name = reference.rsplit('/').next().unwrap();
    let values = schemas[name]["enum"].as_array().expect("an enum").clone();
    assert_eq!(
        values,
        [
            "ok",
            "consent_expiring",
            "unavailable",
            "needs_reconnect",
            "consent_expired",
            "gone"
        ]
    );
    // The probes' answer keeps its own name.
    assert_eq!(schemas["Health"]["type"], "object");
}

#[tokio::test]
async fn a_reconnect_makes_a_link_whose_password_changed_healthy_again() {
    for store in STORES {
        let app = spawn_app_with(store, |_| {}).await;
        let (_, id) = app
            .connect("maria", "mx_employment", "imss_mx_employment")
            .await;
        until_health(&app, "maria", &id, "ok").await;
        app.emulator_control(&id, "break", json!({"reason": "invalid_credentials"}))
            .await;
        until_health(&app, "maria", &id, "needs_reconnect").await;

        let response = app
            .client
            .post(app.url(&format!("/v1/links/{id}/reconnect")))
            .bearer_auth(app.token("maria"))
            .json(&json!({"platform": "ios"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{store:?}");
        let session: Value = response.json().await.unwrap();
        let widget = app
            .belvo_widget(session["widget_url"].as_str().unwrap())
            .await;
        let callback = app
            .widget_outcome(&widget, "success", "imss_mx_employment")
            .await;
        assert_eq!(
            app.client.get(&callback).send().await.unwrap().status(),
            302
        );
        let healthy = until_health(&app, "maria", &id, "ok").await;
        assert_eq!(healthy["health_reason"], Value::Null);
        let data = app
            .client
            .get(app.url(&format!("/v1/links/{id}/employment-records")))
            .bearer_auth(app.token("maria"))
            .send()
            .await
            .unwrap();
        assert_eq!(data.status(), 200, "its data is served again");
    }
}
