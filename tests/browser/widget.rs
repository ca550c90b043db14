//! The widget journey in a real browser for each product: open `widget_url`, click an outcome,
//! land on the callback, and the status API shows that outcome.

use serde_json::json;

use crate::driver::Browser;
use crate::helpers::{ofda_consent, spawn_app, spawn_app_with, StoreKind};

#[tokio::test]
async fn the_widget_journey_works_for_each_product() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let cases = [
        ("mx_employment", "success", "succeeded", "Account connected"),
        (
            "br_employment",
            "login_error",
            "exited",
            "Connection closed",
        ),
        ("co_employment", "abandon", "exited", "Connection closed"),
        ("br_ofda", "success", "succeeded", "Account connected"),
        // An expired widget token no longer ends the session (SPEC §11): reopen widget_url.
        (
            "mx_employment",
            "invalid_token",
            "pending",
            "Still connecting",
        ),
        ("br_employment", "warning", "pending", "Still connecting"),
    ];
    for (product, outcome, status, headline) in cases {
        let mut body = json!({"product": product, "platform": "web"});
        if product == "br_ofda" {
            body["consent"] = ofda_consent();
        }
        let response = app.post_session("maria", &body).await;
        assert_eq!(response.status(), 201);
        let session: serde_json::Value = response.json().await.unwrap();
        let id = session["session_id"].as_str().unwrap();

        browser.goto(session["widget_url"].as_str().unwrap()).await;
        browser.wait_for("#outcome-success").await;
        browser.screenshot(&format!("widget-{product}")).await;
        browser.click(&format!("#outcome-{outcome}")).await;

        // The webview lands on this server's callback, which shows the result (web platform).
        assert_eq!(
            browser.text("#status").await.to_lowercase(),
            status,
            "{product}/{outcome}"
        );
        assert!(browser.text("h1").await.contains(headline));
        assert!(browser
            .current_url()
            .await
            .starts_with(&format!("{}/callbacks/{id}/", app.address)));
        let api = app.status("maria", id).await;
        assert_eq!(api["status"], status, "{product}/{outcome}");
    }
    browser.screenshot("callback-result").await;
    browser.close().await;
}

/// SPEC §11's first journey: the widget's token expires while the user is away; the widget says
/// so, the result page offers to reopen `widget_url`, which renews the token, and the user
/// connects.
#[tokio::test]
async fn an_expired_widget_token_is_renewed_by_reopening_widget_url() {
    // Tokens last 30 s: every opening renews the token (it has less than a minute left).
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.emulator.access_token_ttl = std::time::Duration::from_secs(30);
    })
    .await;
    let browser = Browser::start().await;
    let response = app
        .post_session(
            "maria",
            &json!({"product": "mx_employment", "platform": "web"}),
        )
        .await;
    let session: serde_json::Value = response.json().await.unwrap();
    let id = session["session_id"].as_str().unwrap();

    browser.goto(session["widget_url"].as_str().unwrap()).await;
    browser.wait_for("#outcome-invalid_token").await;
    let first = browser.current_url().await;
    browser.click("#outcome-invalid_token").await;
    assert_eq!(browser.text("#status").await.to_lowercase(), "pending");
    browser.screenshot("reopen-1-token-expired").await;
    assert_eq!(
        app.status("maria", id).await["last_error"]["code"],
        "ACCESS_TOKEN_NOT_VALID"
    );

    browser.click("#reopen").await;
    browser.wait_for("#outcome-success").await;
    let second = browser.current_url().await;
    let token = |url: &str| crate::helpers::param(url, "access_token").unwrap();
    assert_ne!(token(&first), token(&second), "a renewed token");
    browser.screenshot("reopen-2-widget-again").await;
    browser.click("#outcome-success").await;
    assert_eq!(browser.text("#status").await.to_lowercase(), "succeeded");
    browser.screenshot("reopen-3-connected").await;
    let status = app.status("maria", id).await;
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["opens"], 2);
    browser.close().await;
}
