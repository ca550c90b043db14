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
