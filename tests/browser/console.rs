//! The support console and branding admin in headless Chromium, as staff use them. Saves the
//! screenshots the README shows (`target/screenshots/support-*.png`, `admin-branding*.png`).

use std::time::Duration;

use serde_json::Value;

use crate::console_helpers::{spawn_console, ADMIN, PASSWORD, SUPPORT};
use crate::driver::Browser;
use crate::helpers::{param, TestApp};

const LOGO: &str = "https://cdn.acme.mx/logo.svg";

async fn sign_in(browser: &Browser, app: &TestApp, name: &str) {
    browser.goto(&app.url("/support/login")).await;
    browser
        .wait_for("#username")
        .await
        .send_keys(name)
        .await
        .unwrap();
    browser
        .wait_for("#password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    browser.click("#sign-in").await;
    assert_eq!(browser.text("#who").await, name);
}

/// A session for `sub` that the widget closed after a login_error carrying `message`.
async fn failed_login(app: &TestApp, sub: &str, message: &str) -> (String, String) {
    let session = app.open(sub, "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let widget = app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let external_id = param(&widget, "external_id").unwrap();
    let query = serde_urlencoded::to_string([
        ("last_encountered_error_code", "login_error"),
        ("last_encountered_error_message", message),
        ("meta_data_institution_name", "imss_mx_employment"),
        ("meta_data_step", "abandon-survey"),
    ])
    .unwrap();
    assert_eq!(app.callback(&id, "exit", &query).await.status(), 302);
    (id, external_id)
}

async fn run_js(browser: &Browser, script: &str) -> Value {
    browser.client.execute(script, vec![]).await.unwrap()
}

#[tokio::test]
async fn support_finds_a_session_by_external_id_and_reads_why_the_login_failed() {
    let app = spawn_console().await;
    let (id, external_id) = failed_login(
        &app,
        "maria@example.com",
        "Invalid credentials provided to login to the institution",
    )
    .await;
    app.connect("maria@example.com", "mx_employment", "imss_mx_employment")
        .await;
    let browser = Browser::start().await;
    browser.client.set_window_size(1200, 900).await.unwrap();
    sign_in(&browser, &app, SUPPORT).await;

    browser
        .wait_for("#q")
        .await
        .send_keys(&external_id)
        .await
        .unwrap();
    browser.click("#search").await;
    let results = browser.text("#match-1").await;
    assert!(
        results.contains("login_error") && results.contains("EXITED"),
        "{results}"
    );
    browser.screenshot("support-search").await;

    browser
        .click(&format!("a[href='/support/sessions/{id}']"))
        .await;
    assert_eq!(browser.text("#status").await.to_lowercase(), "exited");
    let explanation = browser.text("#explanation").await;
    assert!(
        explanation.contains("Logging in to the institution failed with the details given."),
        "{explanation}"
    );
    assert!(explanation.contains("Check your login details"));
    assert!(browser.text("#timeline").await.contains("abandon-survey"));
    browser.client.set_window_size(1200, 1250).await.unwrap();
    browser.screenshot("support-timeline").await;

    // The same page on a phone.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .goto(&app.url(&format!("/support/sessions/{id}?lang=es")))
        .await;
    assert!(browser
        .text("#explanation")
        .await
        .contains("No se pudo iniciar sesión"));
    let overflow = run_js(
        &browser,
        "return document.documentElement.scrollWidth > window.innerWidth;",
    )
    .await;
    assert_eq!(overflow, Value::Bool(false), "nothing wider than the phone");
    browser.screenshot("support-timeline-phone").await;
    browser.close().await;
}

#[tokio::test]
async fn a_script_in_belvo_values_shows_as_text_and_never_runs() {
    let app = spawn_console().await;
    let payload = "<script>alert(1)</script>";
    let (id, _) = failed_login(&app, "maria", payload).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, SUPPORT).await;
    browser
        .goto(&app.url(&format!("/support/sessions/{id}")))
        .await;
    assert_eq!(browser.text("#error-message").await, payload);
    assert!(browser.text("#timeline").await.contains(payload));
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "an alert is open: the script ran"
    );
    let scripts = run_js(&browser, "return document.scripts.length;").await;
    assert_eq!(
        scripts,
        Value::from(0),
        "no script element made it into the page"
    );

    let response = app
        .client
        .get(app.url(&format!("/support/sessions/{id}")))
        .bearer_auth(app.staff_token(SUPPORT, belvo_bff::auth::Role::Support))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    browser.close().await;
}

#[tokio::test]
async fn an_admin_changes_logo_and_color_sees_the_preview_and_belvo_gets_them() {
    let app = spawn_console().await;
    let browser = Browser::start().await;
    browser.client.set_window_size(1200, 1000).await.unwrap();
    sign_in(&browser, &app, ADMIN).await;
    browser.goto(&app.url("/admin/branding")).await;
    browser.click("#edit-mx_employment").await;

    // A wrong value is explained next to its field, and nothing is saved.
    let logo = browser.wait_for("#company_logo").await;
    logo.send_keys("http://cdn.acme.mx/logo.svg").await.unwrap();
    browser.click("#save").await;
    let error = browser.text("#company_logo-error").await;
    assert!(error.contains("https://"), "{error}");
    browser.screenshot("admin-branding-errors").await;

    let logo = browser.wait_for("#company_logo").await;
    logo.clear().await.unwrap();
    logo.send_keys(LOGO).await.unwrap();
    browser
        .wait_for("#overlay_background_color")
        .await
        .send_keys("#112233")
        .await
        .unwrap();
    // The live preview follows the form.
    let preview_logo = browser.wait_for("#preview-logo").await;
    assert_eq!(
        preview_logo.attr("src").await.unwrap().as_deref(),
        Some(LOGO)
    );
    let color = run_js(
        &browser,
        "return getComputedStyle(document.getElementById('preview-overlay')).backgroundColor;",
    )
    .await;
    assert_eq!(color, Value::from("rgb(17, 34, 51)"));
    assert!(
        !browser
            .wait_for("#company_logo-error")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "the old error goes once the field is edited"
    );
    browser.screenshot("admin-branding-live-preview").await;

    browser.click("#save").await;
    assert!(browser
        .text("#notice")
        .await
        .contains("Saved as version 1."));
    // Saved, and shown without JavaScript's help: the preview stylesheet paints the color.
    let color = run_js(
        &browser,
        "return getComputedStyle(document.getElementById('preview-overlay')).backgroundColor;",
    )
    .await;
    assert_eq!(color, Value::from("rgb(17, 34, 51)"));
    assert!(browser.text("#history").await.contains("#112233"));
    browser.client.set_window_size(1200, 1900).await.unwrap();
    browser.screenshot("admin-branding").await;

    let session = app.open("maria", "mx_employment", "ios").await;
    let request = app
        .token_request_for(session["widget_url"].as_str().unwrap())
        .await;
    assert_eq!(request["widget"]["branding"]["company_logo"], LOGO);
    assert_eq!(
        request["widget"]["branding"]["overlay_background_color"],
        "#112233"
    );
    browser.close().await;
}

#[tokio::test]
async fn support_staff_get_403_on_the_admin_pages() {
    let app = spawn_console().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, SUPPORT).await;
    for path in [
        "/admin/branding",
        "/admin/branding/mx_employment",
        "/admin/audit",
    ] {
        browser.goto(&app.url(path)).await;
        assert_eq!(browser.text("#error-status").await, "403", "{path}");
        assert_eq!(browser.text("#error-title").await, "Admins only");
    }
    browser.close().await;
}

#[tokio::test]
async fn a_branding_form_posted_without_its_csrf_token_is_refused() {
    let app = spawn_console().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, ADMIN).await;
    browser
        .goto(&app.url("/admin/branding/mx_employment"))
        .await;
    browser
        .wait_for("#company_name")
        .await
        .send_keys(" Forged")
        .await
        .unwrap();
    run_js(
        &browser,
        "document.querySelector('#branding-form input[name=csrf]').remove(); return true;",
    )
    .await;
    browser.click("#save").await;
    assert_eq!(browser.text("#error-title").await, "Form refused");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let request = app
        .token_request_for(session["widget_url"].as_str().unwrap())
        .await;
    assert_eq!(request["widget"]["branding"]["company_name"], "ACME");
    browser.close().await;
}

/// `/support/institutions` after Belvo's status page reported IMSS down and an incident on a
/// component no product offers; saves `support-institutions.png`.
#[tokio::test]
async fn support_sees_which_institutions_are_down_and_why() {
    let app = crate::helpers::spawn_app_with(crate::helpers::StoreKind::Redis, |s| {
        crate::console_helpers::with_staff(s);
        s.secrets.status_webhook_token = Some("status-secret".to_owned().into());
        s.institutions
            .status_components
            .insert("IMSS".into(), "imss_mx_employment".into());
    })
    .await;
    let reports = [
        serde_json::json!({
            "component_update": {"created_at": "2026-11-29T10:00:00Z", "new_status": "major_outage"},
            "component": {"name": "IMSS", "status": "major_outage"}}),
        serde_json::json!({"incident": {
            "name": "Nubank logins failing", "status": "identified",
            "updated_at": "2026-11-29T10:05:00Z",
            "components": [{"name": "nubank_br_retail", "status": "partial_outage"}]}}),
    ];
    for report in reports {
        let response = app
            .client
            .post(app.url("/webhooks/institution-status?token=status-secret"))
            .json(&report)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let browser = Browser::start().await;
    sign_in(&browser, &app, SUPPORT).await;
    browser.click("a[href='/support/institutions']").await;
    let imss = "#institution-imss_mx_employment";
    browser.wait_for(imss).await;
    assert_eq!(
        browser
            .text(&format!("{imss} .badge-institution-down"))
            .await
            .to_lowercase(),
        "down",
        "badges are shown in capitals"
    );
    let nubank = browser.text("#institution-nubank_br_retail").await;
    assert!(nubank.to_lowercase().contains("unknown"), "{nubank}");
    assert!(nubank.contains("Nubank logins failing"), "{nubank}");
    assert_eq!(
        browser
            .text("#institution-issste_mx_employment .badge-institution-operational")
            .await
            .to_lowercase(),
        "operational"
    );
    browser.screenshot("support-institutions").await;
    browser.close().await;
}
