//! `/support/funnel` in headless Chromium after a scripted mix of outcomes: the chart and the
//! numbers a product team reads. Saves `target/screenshots/support-funnel.png`.

use crate::console_helpers::{scripted_mix, spawn_with_product, PASSWORD, SUPPORT};
use crate::driver::Browser;

#[tokio::test]
async fn the_funnel_page_shows_the_scripted_mix() {
    let app = spawn_with_product("mx_funnel_browser").await;
    scripted_mix(&app, "mx_funnel_browser").await;
    let browser = Browser::start().await;
    browser.client.set_window_size(1200, 1400).await.unwrap();
    browser.goto(&app.url("/support/login")).await;
    let field = browser.wait_for("#username").await;
    field.send_keys(SUPPORT).await.unwrap();
    let field = browser.wait_for("#password").await;
    field.send_keys(PASSWORD).await.unwrap();
    browser.click("#sign-in").await;
    assert_eq!(browser.text("#who").await, SUPPORT);

    browser
        .goto(&app.url("/support/funnel?product=mx_funnel_browser&platform=ios"))
        .await;
    let count = |step: &str| format!("#steps tr[data-step=\"{step}\"] .count");
    assert_eq!(browser.text(&count("created")).await, "5");
    assert_eq!(browser.text(&count("opened")).await, "4");
    assert_eq!(browser.text(&count("success")).await, "2");
    assert_eq!(browser.text(&count("link_verified")).await, "2");
    assert_eq!(browser.text(&count("resources_ready")).await, "2");
    let steps = browser.text("#steps").await;
    assert!(
        steps.contains("80.0%") && steps.contains("50.0%"),
        "{steps}"
    );
    // Every connected link verified, and every one of them ready: all of the step before.
    let of_before = |step: &str| format!("#steps tr[data-step=\"{step}\"] td:nth-child(3)");
    assert_eq!(browser.text(&of_before("link_verified")).await, "100.0%");
    assert_eq!(browser.text(&of_before("resources_ready")).await, "100.0%");
    let left = |step: &str| format!("#leaves tr[data-step=\"{step}\"]");
    for step in ["error:login_error", "exit_institution", "exit_first_screen"] {
        let count = browser.text(&format!("{} .count", left(step))).await;
        assert_eq!(count, "1", "{step}");
    }
    // The error's explanation, from the one explanations table.
    let login = browser.text(&left("error:login_error")).await;
    let explained = belvo_bff::domain::explanation::explain(
        "login_error",
        belvo_bff::domain::explanation::Lang::En,
    );
    assert!(login.contains(explained.what), "{login}");
    assert!(browser
        .text(&left("exit_institution"))
        .await
        .contains("after choosing"));
    assert!(browser
        .text(&left("exit_first_screen"))
        .await
        .contains("before choosing"));
    let chart = browser.text("#funnel-chart").await;
    assert!(
        chart.contains("Widget opened") && chart.contains("4"),
        "{chart}"
    );
    assert!(
        chart.contains("Link verified") && chart.contains("Every resource ready"),
        "{chart}"
    );
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("#funnel-chart rect"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5, "one bar per step");
    assert!(browser
        .text("#institutions")
        .await
        .contains("imss_mx_employment"));
    browser.screenshot("support-funnel").await;
    browser.close().await;
}
