//! `POST /v1/links/{link_id}/reconnect` (SPEC §11): Belvo's update mode for a link the user owns.

use serde_json::{json, Value};

use crate::helpers::{param, spawn_app, TestApp};

async fn reconnect(app: &TestApp, sub: &str, link: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/links/{link}/reconnect")))
        .bearer_auth(app.token(sub))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn webhooks_sent(app: &TestApp) -> u64 {
    app.emulator_get("/_emulator/stats").await["webhooks_sent"]
        .as_u64()
        .unwrap()
}

/// Maria's view of `path` on the mobile API.
async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// A link of `product` connected through the widget and confirmed by Belvo.
async fn connected(app: &TestApp, product: &str, institution: &str) -> (String, Value) {
    let (session, link) = app.connect("maria", product, institution).await;
    let status = app.status_until_resources("maria", &session).await;
    assert_eq!(status["link_verified"], true);
    let shown = get_json(app, &format!("/v1/links/{link}")).await;
    (link, shown)
}

#[tokio::test]
async fn reconnecting_keeps_the_link_its_data_and_its_id() {
    let app = spawn_app().await;
    let (link, before) = connected(&app, "mx_employment", "imss_mx_employment").await;

    let response = reconnect(&app, "maria", &link, json!({"platform": "ios"})).await;
    assert_eq!(response.status(), 201);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["mode"], "update");
    assert_eq!(session["link_id"], link.as_str());
    let id = session["session_id"].as_str().unwrap();
    assert_eq!(session["widget_url"], app.url(&format!("/w/{id}")));
    let status = app.status("maria", id).await;
    assert_eq!(status["mode"], "update");
    assert_eq!(status["link_id"], link.as_str(), "known from the start");
    assert_eq!(status["status"], "pending");

    // The link id really reaches Belvo's token request (belvo-python once dropped it), with
    // read_links added to the product's scopes.
    let sent = app
        .token_request_for(session["widget_url"].as_str().unwrap())
        .await;
    assert_eq!(sent["link_id"], link.as_str());
    assert_eq!(sent["scopes"], "read_institutions,write_links,read_links");
    assert_eq!(sent["fetch_resources"], json!(["EMPLOYMENT_RECORDS"]));

    // The widget opens in update mode for the link's institution.
    let widget = app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let page = app
        .client
        .get(&widget)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Actualiza tu acceso a imss_mx_employment"),
        "{page}"
    );
    assert!(page.contains("Reconnect"));

    let callback = app
        .widget_outcome(&widget, "success", "imss_mx_employment")
        .await;
    assert_eq!(param(&callback, "link").as_deref(), Some(link.as_str()));
    assert_eq!(
        app.client.get(&callback).send().await.unwrap().status(),
        302
    );
    let status = app.status("maria", id).await;
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["link_id"], link.as_str());
    assert_eq!(status["link_verified"], true);

    let after = get_json(&app, &format!("/v1/links/{link}")).await;
    assert_eq!(
        after["resources"], before["resources"],
        "data and resources kept"
    );
    assert_eq!(
        after["session_id"], before["session_id"],
        "still the first session's"
    );
}

#[tokio::test]
async fn a_success_naming_another_link_fails_the_reconnect_and_changes_no_link() {
    let app = spawn_app().await;
    let (link, before) = connected(&app, "mx_employment", "imss_mx_employment").await;
    let session: Value = reconnect(&app, "maria", &link, json!({"platform": "android"}))
        .await
        .json()
        .await
        .unwrap();
    let id = session["session_id"].as_str().unwrap();
    let other = uuid::Uuid::new_v4();
    let response = app
        .callback(
            id,
            "success",
            &format!("link={other}&institution=imss_mx_employment"),
        )
        .await;
    assert_eq!(response.status(), 302);
    let status = app.status("maria", id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["last_error"]["code"], "link_mismatch");
    assert!(status["last_error"]["explanation"]["user_action"].is_string());
    let mine = get_json(&app, "/v1/links").await;
    assert_eq!(
        mine["links"],
        json!([before]),
        "no link changed or appeared"
    );
}

#[tokio::test]
async fn only_the_owner_reconnects_and_open_finance_links_renew_their_consent_instead() {
    let app = spawn_app().await;
    let (link, _) = connected(&app, "mx_employment", "imss_mx_employment").await;
    let ios = json!({"platform": "ios"});
    assert_eq!(
        reconnect(&app, "pedro", &link, ios.clone()).await.status(),
        404
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        reconnect(&app, "maria", &unknown, ios.clone())
            .await
            .status(),
        404
    );
    assert_eq!(
        reconnect(&app, "maria", "nope", ios.clone()).await.status(),
        404
    );
    let bad = reconnect(&app, "maria", &link, json!({"platform": "tv"})).await;
    assert_eq!(bad.status(), 400);
    let bad = reconnect(
        &app,
        "maria",
        &link,
        json!({"platform": "ios", "locale": "fr"}),
    )
    .await;
    assert_eq!(bad.status(), 400);

    let (ofda, _) = connected(&app, "br_ofda", "ofbradesco_br_retail").await;
    let refused = reconnect(&app, "maria", &ofda, ios.clone()).await;
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "reconnect_not_supported");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("consent"));
}

#[tokio::test]
async fn a_link_belvo_no_longer_knows_cannot_be_reconnected() {
    let app = spawn_app().await;
    let (link, _) = connected(&app, "mx_employment", "imss_mx_employment").await;
    // Deleted at Belvo behind this server's back (another tool, Belvo's dashboard).
    let deleted = app
        .client
        .delete(app.url(&format!("/emulator/api/links/{link}/")))
        .basic_auth("dev-secret-id", Some("dev-secret-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let refused = reconnect(&app, "maria", &link, json!({"platform": "ios"})).await;
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "link_unknown_to_belvo");
    // Belvo's 404 is news: the link is gone here too, kept read-only (SPEC §11).
    let shown = get_json(&app, &format!("/v1/links/{link}")).await;
    assert_eq!(shown["health"], "gone");
    assert_eq!(shown["health_reason"]["code"], "link_gone");
}

/// Belvo refreshes a repaired recurrent link: the emulator sends its historical_update
/// webhooks again, and the link keeps being served.
#[tokio::test]
async fn a_repaired_recurrent_link_gets_a_fresh_historical_update() {
    let app = spawn_app().await;
    let body = json!({"product": "mx_employment", "platform": "ios", "access_mode": "recurrent"});
    let session: Value = app.post_session("maria", &body).await.json().await.unwrap();
    let id = session["session_id"].as_str().unwrap();
    let callback = app
        .widget_outcome(
            session["widget_url"].as_str().unwrap(),
            "success",
            "imss_mx_employment",
        )
        .await;
    app.client.get(&callback).send().await.unwrap();
    app.status_until_resources("maria", id).await;
    let link = param(&callback, "link").unwrap();

    // The emulator counts a webhook once its answer is back: wait for the first ones.
    let before = until_sent(&app, 1).await;

    let update: Value = reconnect(&app, "maria", &link, json!({"platform": "ios"}))
        .await
        .json()
        .await
        .unwrap();
    let callback = app
        .widget_outcome(
            update["widget_url"].as_str().unwrap(),
            "success",
            "imss_mx_employment",
        )
        .await;
    app.client.get(&callback).send().await.unwrap();
    until_sent(&app, before + 1).await;
}

/// Waits (up to 15 s) until the emulator has sent at least `n` webhooks; returns how many.
async fn until_sent(app: &TestApp, n: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let sent = webhooks_sent(app).await;
        if sent >= n {
            return sent;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sent} webhooks sent, waited for {n}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
