//! `/demo` plays the mobile app end to end in a browser.

use crate::driver::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_demo_plays_the_whole_journey() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/demo")).await;
    browser.screenshot("demo").await;
    let select = browser.wait_for("#product").await;
    select.select_by_value("br_employment").await.unwrap();
    browser.click("#open-widget").await;

    browser.wait_for("#outcome-success").await;
    assert!(browser.current_url().await.contains("/emulator/widget/"));
    browser.click("#outcome-success").await;

    assert_eq!(browser.text("#status").await.to_lowercase(), "succeeded");
    browser.click("#back-to-demo").await;
    assert_eq!(browser.text("#status").await.to_lowercase(), "succeeded");
    assert!(browser.text("#timeline").await.contains("success"));

    // The page refreshes itself until the emulator's webhooks have arrived.
    let mut json = String::new();
    for _ in 0..30 {
        json = browser.text("#status-json").await;
        if !json.contains("\"pending\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(json.contains("\"EMPLOYMENTS\""), "{json}");
    assert!(
        !json.contains("\"pending\""),
        "resources still pending: {json}"
    );
    let timeline = browser.text("#timeline").await;
    assert!(
        timeline.contains("webhook"),
        "webhooks shown on the timeline: {timeline}"
    );
    browser.screenshot("demo-session").await;
    browser.close().await;
}

/// Waits (up to 15 s) until `css`'s text satisfies `done`, re-reading it as the page refreshes.
pub(crate) async fn until_text(
    browser: &Browser,
    css: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut text = String::new();
    for _ in 0..60 {
        if let Ok(found) =
            tokio::time::timeout(std::time::Duration::from_secs(2), browser.text(css)).await
        {
            text = found;
            if done(&text) {
                return text;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("{css} never became what was expected: {text:?}");
}

/// SPEC §11's second journey, in the demo: connected → "the password changed" → the health
/// says so → Reconnect → Belvo's update-mode widget → healthy again, with the same link.
#[tokio::test]
async fn a_changed_password_is_repaired_by_reconnecting_in_the_demo() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/demo")).await;
    let select = browser.wait_for("#product").await;
    select.select_by_value("mx_employment").await.unwrap();
    browser.click("#open-widget").await;
    browser.wait_for("#outcome-success").await;
    browser.click("#outcome-success").await;
    browser.click("#back-to-demo").await;

    // Once Belvo confirmed the link, the session page leads to it.
    until_text(&browser, "#status-json", |t| {
        t.contains("\"link_verified\": true")
    })
    .await;
    browser.click("#link-page").await;
    assert_eq!(browser.text("#health").await.to_lowercase(), "ok");
    let link = browser.current_id().await;

    browser.click("#simulate-password-changed").await;
    until_text(&browser, "#health", |t| {
        t.to_lowercase() == "needs_reconnect"
    })
    .await;
    assert!(browser.text("#health-reason").await.len() > 20, "explained");
    browser.screenshot("reconnect-1-needs-reconnect").await;

    browser.click("#reconnect").await;
    let heading = browser.text("h1").await;
    assert!(
        heading.contains("Actualiza tu acceso"),
        "update mode: {heading}"
    );
    browser.screenshot("reconnect-2-update-mode-widget").await;
    browser.click("#outcome-success").await;
    assert_eq!(browser.text("#status").await.to_lowercase(), "succeeded");
    browser.click("#back-to-demo").await;
    let json = browser.text("#status-json").await;
    assert!(json.contains("\"mode\": \"update\""), "{json}");
    assert!(json.contains(&link), "the same link: {json}");

    until_text(&browser, "#status-json", |t| {
        t.contains("\"link_verified\": true")
    })
    .await;
    browser.click("#link-page").await;
    until_text(&browser, "#health", |t| t.to_lowercase() == "ok").await;
    assert!(browser.current_url().await.contains(&link));
    browser.screenshot("reconnect-3-healthy-again").await;
    let api = app
        .client
        .get(app.url(&format!("/v1/links/{link}")))
        .bearer_auth(app.token("demo-user"))
        .send()
        .await
        .unwrap();
    let api: serde_json::Value = api.json().await.unwrap();
    assert_eq!(api["health"], "ok");
    browser.close().await;
}

/// The demo's own receiver: a finished session's event arrives signed, verifies, and is listed
/// on `/demo/events`, reached from the session page.
#[tokio::test]
async fn the_demo_shows_the_events_its_backend_would_receive() {
    let app = crate::helpers::spawn_app_with(crate::helpers::StoreKind::Redis, |s| {
        s.notify.demo_receiver = true
    })
    .await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/demo")).await;
    let select = browser.wait_for("#product").await;
    select.select_by_value("mx_employment").await.unwrap();
    browser.click("#open-widget").await;
    browser.wait_for("#outcome-success").await;
    browser.click("#outcome-success").await;
    assert_eq!(browser.text("#status").await.to_lowercase(), "succeeded");
    browser.click("#back-to-demo").await;
    browser.click("#demo-events").await;
    let events = until_text(&browser, "#events", |t| t.contains("session.succeeded")).await;
    assert!(events.contains('✓'), "{events}");
    assert!(events.contains("\"session_id\""), "{events}");
    browser.screenshot("demo-events").await;
    browser.close().await;
}
