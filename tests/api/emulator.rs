//! The Belvo emulator behaves as the guides describe Belvo: token checks, the widget's outcomes
//! with Belvo's exact query strings, links with the IMSS error table, data, webhooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{location, param, spawn_app, spawn_app_with, StoreKind, TestApp};

const ID: &str = "dev-secret-id";
const PW: &str = "dev-secret-password";

fn token_body() -> Value {
    json!({
        "id": ID, "password": PW,
        "scopes": "read_institutions,write_links",
        "stale_in": "365d",
        "fetch_resources": ["EMPLOYMENT_RECORDS"],
        "widget": {"callback_urls": {"success": "app://success", "exit": "app://exit", "event": "app://error"}}
    })
}

async fn post_token(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/emulator/api/token/"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_endpoint_checks_the_body_as_belvo_does() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let ok = post_token(&app, &token_body()).await;
    assert_eq!(ok.status(), 200);
    let tokens: Value = ok.json().await.unwrap();
    let claims = crate::helpers::jwt_claims(tokens["access"].as_str().unwrap());
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["fetch_resources"], json!(["EMPLOYMENT_RECORDS"]));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    assert_eq!(
        crate::helpers::jwt_claims(tokens["refresh"].as_str().unwrap())["token_type"],
        "refresh"
    );

    let mut cases: Vec<(u16, Value)> = Vec::new();
    let mut wrong_pw = token_body();
    wrong_pw["password"] = json!("nope");
    cases.push((401, wrong_pw));
    let mut bad_scope = token_body();
    bad_scope["scopes"] = json!("read_institutions,admin");
    cases.push((400, bad_scope));
    let mut no_links = token_body();
    no_links["scopes"] = json!("read_institutions");
    cases.push((400, no_links));
    let mut mixed = token_body();
    mixed["fetch_resources"] = json!(["EMPLOYMENT_RECORDS", "EMPLOYMENTS"]);
    cases.push((400, mixed));
    let mut unknown = token_body();
    unknown["fetch_resources"] = json!(["SECRETS"]);
    cases.push((400, unknown));
    let mut bad_url = token_body();
    bad_url["widget"]["callback_urls"]["exit"] = json!("not a url");
    cases.push((400, bad_url));
    let mut long_purpose = token_body();
    long_purpose["widget"]["purpose"] = json!("x".repeat(601));
    cases.push((400, long_purpose));
    let mut bad_consent = token_body();
    bad_consent["fetch_resources"] = json!(["ACCOUNTS"]);
    bad_consent["widget"]["openfinance_feature"] = json!("consent_link_creation");
    bad_consent["widget"]["consent"] = json!({"terms_and_conditions_url": "https://x.example",
        "permissions": ["REGISTER"], "identification_info": [{"type": "CPF", "number": "11111111111", "name": "A"}]});
    cases.push((400, bad_consent));
    for (status, body) in cases {
        let response = post_token(&app, &body).await;
        assert_eq!(response.status(), status, "{body}");
        let errors: Value = response.json().await.unwrap();
        assert!(
            errors[0]["code"].is_string() && errors[0]["request_id"].is_string(),
            "{errors}"
        );
    }
}

/// Each widget button and the exact callback query Belvo sends for it.
#[tokio::test]
async fn every_widget_outcome_redirects_with_belvos_query_string() {
    let app = spawn_app().await;
    let cases = [
        ("login_error", "exit", "last_encountered_error_code=login_error&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the%20institution&meta_data_institution_name=planet_mx_employment"),
        ("institution_down", "exit", "last_encountered_error_code=institution_down&last_encountered_error_message=The%20financial%20institution%20is%20down%2C%20try%20again%20later&meta_data_institution_name=planet_mx_employment"),
        ("too_many_sessions", "exit", "last_encountered_error_code=too_many_sessions&last_encountered_error_message=Impossible%20to%20login%2C%20a%20session%20is%20already%20opened%20with%20the%20institution%20for%20these%20credentials&meta_data_institution_name=planet_mx_employment"),
        ("unexpected_error", "exit", "last_encountered_error_code=unexpected_error&last_encountered_error_message=Belvo%20is%20unable%20to%20process%20the%20request%20due%20to%20an%20internal%20system%20issue%20or%20to%20an%20unsupported%20response%20from%20an%20institution&meta_data_institution_name=planet_mx_employment"),
        ("abandon", "exit", "meta_data_step=abandon-survey"),
        ("warning", "event", "warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable."),
        ("invalid_token", "exit", "error=ACCESS_TOKEN_NOT_VALID&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid"),
    ];
    for (outcome, kind, query) in cases {
        let session = app.open("maria", "mx_employment", "ios").await;
        let id = session["session_id"].as_str().unwrap();
        let target = app
            .widget_outcome(
                session["widget_url"].as_str().unwrap(),
                outcome,
                "planet_mx_employment",
            )
            .await;
        assert_eq!(
            target,
            format!("{}/callbacks/{id}/{kind}?{query}", app.address),
            "{outcome}"
        );
        // And the BFF takes Belvo's query as it is.
        let response = app.client.get(&target).send().await.unwrap();
        assert_eq!(response.status(), 302, "{outcome}");
    }
}

#[tokio::test]
async fn a_token_is_not_valid_after_one_successful_link() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let widget_url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let page = app.client.get(widget_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let success = app
        .widget_outcome(widget_url, "success", "planet_mx_employment")
        .await;
    assert!(success.contains("/success?link="));

    let again = app.client.get(widget_url).send().await.unwrap();
    assert_eq!(again.status(), 302);
    let target = location(&again);
    assert!(target.ends_with("/exit?error=ACCESS_TOKEN_NOT_VALID&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid"), "{target}");

    let forged = app
        .client
        .get(app.url("/emulator/widget/?access_token=forged.token.value"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn the_widget_page_shows_the_branding_and_institutions() {
    let app = spawn_app_with(StoreKind::Memory, |s| {
        let mx = s
            .products
            .get_mut(&belvo_bff::domain::ids::ProductName::parse("mx_employment").unwrap())
            .unwrap();
        mx.branding.company_name = Some("Nómina Feliz".into());
        mx.branding.overlay_background_color =
            Some(belvo_bff::domain::branding::HexColor::parse("#112233").unwrap());
        mx.sandbox_institutions = None;
    })
    .await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let widget_url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let html = app
        .client
        .get(widget_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Nómina Feliz"));
    assert!(html.contains("Conecta tu cuenta"), "locale=mx is Spanish");
    assert!(html.contains("imss_mx_employment") && html.contains("issste_mx_employment"));
    let token = param(widget_url, "access_token").unwrap();
    let css = app
        .client
        .get(app.url(&format!(
            "/emulator/widget/branding.css?access_token={token}"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("#112233"));
}

async fn create_link(app: &TestApp, username: &str) -> reqwest::Response {
    app.client
        .post(app.url("/emulator/api/links/"))
        .basic_auth(ID, Some(PW))
        .json(
            &json!({"institution": "planet_mx_employment", "username": username,
            "fetch_resources": ["EMPLOYMENT_RECORDS", "OWNERS"], "access_mode": "single",
            "external_id": "COHORT_32_User_6790023X5"}),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn fixture_usernames_reproduce_the_imss_error_table() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    for (username, status, code, message) in belvo_bff::emulator::FIXTURE_USERNAMES {
        let response = create_link(&app, username).await;
        assert_eq!(response.status().as_u16(), *status, "{username}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body[0]["code"], *code);
        assert_eq!(body[0]["message"], *message);
    }
    assert_eq!(FIXTURE_COUNT, belvo_bff::emulator::FIXTURE_USERNAMES.len());
}

/// Rows of the guide's IMSS table other than `forbidden_by_host` (tested on its own).
const FIXTURE_COUNT: usize = 9;

#[tokio::test]
async fn the_fourth_attempt_in_a_day_is_forbidden_by_host() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    for _ in 0..3 {
        assert_eq!(create_link(&app, "GODE561231HDFRRN09").await.status(), 201);
    }
    let fourth = create_link(&app, "GODE561231HDFRRN09").await;
    assert_eq!(fourth.status(), 403);
    let body: Value = fourth.json().await.unwrap();
    assert_eq!(body[0]["code"], "forbidden_by_host");
    assert_eq!(
        body[0]["message"],
        "Has agotado el número de solicitudes permitidas por día."
    );
    assert_eq!(create_link(&app, "OTHE561231HDFRRN01").await.status(), 201);
}

#[tokio::test]
async fn links_and_data_are_deterministic_paginated_and_need_basic_auth() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let link: Value = create_link(&app, "GODE561231HDFRRN09")
        .await
        .json()
        .await
        .unwrap();
    let id = link["id"].as_str().unwrap();
    assert_eq!(link["external_id"], "COHORT_32_User_6790023X5");
    assert_eq!(link["status"], "valid");

    let get = |path: String, auth: bool| {
        let mut r = app.client.get(app.url(&path));
        if auth {
            r = r.basic_auth(ID, Some(PW));
        }
        r.send()
    };
    assert_eq!(
        get(format!("/emulator/api/links/{id}/"), false)
            .await
            .unwrap()
            .status(),
        401
    );
    let fetched = app.emulator_get(&format!("/api/links/{id}/")).await;
    assert_eq!(fetched, link);
    assert_eq!(
        get(
            format!("/emulator/api/links/{}/", uuid::Uuid::new_v4()),
            true
        )
        .await
        .unwrap()
        .status(),
        404
    );

    let records = format!("/api/employment-records/?link={id}");
    let first = app.emulator_get(&records).await;
    let second = app.emulator_get(&records).await;
    assert_eq!(first, second, "deterministic");
    assert_eq!(first["count"], 1);
    assert!(
        first["results"][0]["employment_records"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );

    let br = app
        .connect("ana", "br_employment", "inss_br_employment")
        .await
        .1;
    let page1 = app
        .emulator_get(&format!("/api/br/employments/?link={br}&page_size=1"))
        .await;
    assert!(page1["count"].as_u64().unwrap() >= 2);
    assert_eq!(page1["results"].as_array().unwrap().len(), 1);
    assert!(page1["next"].as_str().unwrap().contains("page=2"));
    assert!(page1["previous"].is_null());
}

/// A tiny receiver that refuses the first `fail_first` webhooks, then accepts.
fn flaky_receiver(fail_first: usize) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (c, a) = (calls.clone(), accepted.clone());
    let base = crate::helpers::stub_server(move |req: actix_web::HttpRequest| {
        let (c, a) = (c.clone(), a.clone());
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            assert_eq!(auth, Some("Bearer dev-webhook-token"));
            if c.fetch_add(1, Ordering::SeqCst) < fail_first {
                actix_web::HttpResponse::ServiceUnavailable().finish()
            } else {
                a.fetch_add(1, Ordering::SeqCst);
                actix_web::HttpResponse::Ok().finish()
            }
        }
    });
    (format!("{base}/hook"), calls, accepted)
}

#[tokio::test]
async fn webhooks_are_retried_with_backoff_and_bounded() {
    let (url, calls, accepted) = flaky_receiver(2);
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.emulator.webhook_url = Some(url.parse().unwrap());
        s.emulator.webhook_delay = Duration::from_millis(20);
        s.emulator.webhook_attempts = 4;
    })
    .await;
    app.connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    for _ in 0..100 {
        if accepted.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "EMPLOYMENT_RECORDS delivered once"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two refusals, then success"
    );

    let (url, calls, accepted) = flaky_receiver(usize::MAX);
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.emulator.webhook_url = Some(url.parse().unwrap());
        s.emulator.webhook_delay = Duration::from_millis(10);
        s.emulator.webhook_attempts = 3;
    })
    .await;
    app.connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    // The emulator counts a webhook it gave up on; after that it sends nothing more.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.emulator_get("/_emulator/stats").await["webhooks_failed"] != 1 {
        assert!(std::time::Instant::now() < deadline, "never gave up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "gives up after 3 attempts");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

/// `emulator.latency`: every API answer waits that long (as Belvo's own take hundreds of
/// milliseconds), the widget's pages do not, and a session opened through it still works.
#[tokio::test]
async fn with_a_latency_every_api_answer_waits_it() {
    let latency = Duration::from_millis(300);
    let app = spawn_app_with(StoreKind::Memory, |s| s.emulator.latency = latency).await;
    let started = std::time::Instant::now();
    assert_eq!(post_token(&app, &token_body()).await.status(), 200);
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());
    let started = std::time::Instant::now();
    let session = app.open("maria", "mx_employment", "ios").await;
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());
    assert!(session["widget_url"].is_string(), "{session}");
}
