//! SPEC §12's journey in the demo: a `br_ofda` link whose consent expires → "Renew consent" →
//! My Belvo Portal (the emulator's) → "Renovar" → back in the app, the link is active again.

use crate::demo::until_text;
use crate::driver::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn an_expired_consent_is_renewed_through_the_portal_in_the_demo() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/demo")).await;
    let select = browser.wait_for("#product").await;
    select.select_by_value("br_ofda").await.unwrap();
    browser.click("#open-widget").await;
    browser.wait_for("#outcome-success").await;
    browser.click("#outcome-success").await;
    browser.click("#back-to-demo").await;

    // Connected, Belvo confirmed the link and its data arrived.
    until_text(&browser, "#status-json", |t| {
        t.contains("\"link_verified\": true") && !t.contains("\"pending\"")
    })
    .await;
    browser.click("#link-page").await;
    assert_eq!(browser.text("#consent-state").await, "active");
    let link = browser.current_id().await;

    browser.click("#simulate-consent-expired").await;
    until_text(&browser, "#health", |t| {
        t.to_lowercase() == "consent_expired"
    })
    .await;
    assert_eq!(browser.text("#consent-state").await, "expired");
    assert!(browser.text("#health-reason").await.len() > 20, "explained");
    browser.screenshot("consent-1-expired").await;

    browser.click("#renew-consent").await;
    let heading = browser.text("h1").await;
    assert_eq!(heading, "Renovar consentimento");
    let portal = browser.current_url().await;
    assert!(
        portal.contains("/emulator/portal/?access_token="),
        "{portal}"
    );
    assert!(portal.contains("action=renew"), "{portal}");
    assert!(portal.contains(&link), "{portal}");
    assert_eq!(browser.text(".consent-state").await, "Expirado");
    browser.screenshot("consent-2-portal").await;

    browser.click("#renew").await;
    assert!(browser
        .text("#return-to-app")
        .await
        .contains("Volte ao app"));
    browser.screenshot("consent-3-return-to-app").await;

    // Back in the app: the link is active again (the portal's renewal re-sent Belvo's data).
    browser
        .goto(&app.url(&format!("/demo/links/{link}?expect=ok")))
        .await;
    until_text(&browser, "#health", |t| t.to_lowercase() == "ok").await;
    assert_eq!(browser.text("#consent-state").await, "active");
    browser.screenshot("consent-4-active-again").await;
    browser.close().await;
}
