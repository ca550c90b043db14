//! The widget journey in a real browser for each product: open `widget_url`, click an outcome,
//! land on the callback, and the status API shows that outcome.

use serde_json::json;

use crate::driver::Browser;
use crate::helpers::{ofda_consent, spawn_app};

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
        (
            "mx_employment",
            "invalid_token",
            "failed",
            "The connection failed",
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
