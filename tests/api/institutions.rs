//! Institution health (SPEC §14): Belvo's status-page webhook and the widget's own
//! `institution_down` / `institution_disabled` reports, as an app reads them
//! (`GET /v1/institutions`, `institutions_status` when a session opens) and as support sees them
//! (`/support/institutions`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{on_redis_and_cluster, spawn_app_with, stub_server, StoreKind, TestApp};

const TOKEN: &str = "status-page-secret";
const PLANET: &str = "planet_mx_employment";

fn with_status_webhook(s: &mut belvo_bff::config::Settings) {
    s.secrets.status_webhook_token = Some(TOKEN.to_owned().into());
    s.institutions
        .status_components
        .insert("Planet".into(), PLANET.into());
    s.institutions.status_refresh = Duration::from_millis(100);
}

async fn post_status(app: &TestApp, token: Option<&str>, body: &str) -> reqwest::Response {
    let mut url = app.url("/webhooks/institution-status");
    if let Some(token) = token {
        url.push_str(&format!("?token={token}"));
    }
    app.client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn component_update(component: &str, status: &str, at: &str) -> String {
    json!({
        "meta": {"unsubscribe": "https://status.belvo.com/?unsubscribe=x", "documentation": "https://help.statuspage.io/"},
        "page": {"id": "belvo", "status_indicator": "major", "status_description": "Partial outage"},
        "component_update": {"created_at": at, "new_status": status, "old_status": "operational",
                             "id": "u1", "component_id": "c1"},
        "component": {"created_at": "2024-01-01T00:00:00Z", "id": "c1", "name": component, "status": status}
    })
    .to_string()
}

async fn institutions(app: &TestApp, product: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/v1/institutions?product={product}")))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["institutions"].as_array().unwrap().clone()
}

async fn planet(app: &TestApp) -> Value {
    let list = institutions(app, "mx_employment").await;
    list.into_iter()
        .find(|i| i["name"] == PLANET)
        .expect("planet listed")
}

/// Polls `read` until `done` holds (the widget's signals are counted off the request's path).
async fn until<F, Fut>(what: &str, mut read: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: last {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn support_page(app: &TestApp) -> String {
    let token = app.staff_token("sam", belvo_bff::auth::Role::Support);
    let response = app
        .client
        .get(app.url("/support/institutions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn status_page_reports_reach_apps_and_support(kind: StoreKind) {
    let app = spawn_app_with(kind, with_status_webhook).await;
    let before = planet(&app).await;
    assert_eq!(before["status"], "operational");
    assert_eq!(before["since"], Value::Null);
    assert_eq!(
        before["display_name"], "Planet (sandbox IMSS)",
        "Belvo's name"
    );

    let down = component_update("Planet", "major_outage", "2026-11-29T10:00:00Z");
    let response = post_status(&app, Some(TOKEN), &down).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["recorded"], 1);
    let now = planet(&app).await;
    assert_eq!(now["status"], "down");
    assert_eq!(now["since"], "2026-11-29T10:00:00Z");

    // A late, older report does not undo the newer one; a repeat keeps `since`.
    let older = component_update("Planet", "operational", "2026-11-29T09:00:00Z");
    assert_eq!(post_status(&app, Some(TOKEN), &older).await.status(), 200);
    let again = component_update("Planet", "major_outage", "2026-11-29T10:30:00Z");
    assert_eq!(post_status(&app, Some(TOKEN), &again).await.status(), 200);
    let now = planet(&app).await;
    assert_eq!(
        (&now["status"], &now["since"]),
        (&json!("down"), &json!("2026-11-29T10:00:00Z"))
    );

    // An incident naming a component that is no configured institution: kept, shown unknown.
    let incident = json!({"incident": {
        "name": "Nubank degraded", "status": "investigating", "impact": "minor",
        "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:05:00Z",
        "components": [{"id": "c9", "name": "nubank_br_retail", "status": "partial_outage"}]}});
    assert_eq!(
        post_status(&app, Some(TOKEN), &incident.to_string())
            .await
            .status(),
        200
    );
    let page = support_page(&app).await;
    let row = |code: &str| {
        let start = page
            .find(&format!("id=\"institution-{code}\""))
            .expect(code);
        page[start..][..page[start..].find("</tr>").unwrap()].to_owned()
    };
    let nubank = row("nubank_br_retail");
    assert!(nubank.contains("unknown"), "{nubank}");
    assert!(nubank.contains("badge-institution-degraded"), "{nubank}");
    assert!(nubank.contains("Nubank degraded"), "{nubank}");
    let planet_row = row(PLANET);
    assert!(
        planet_row.contains("badge-institution-down"),
        "{planet_row}"
    );
    assert!(!planet_row.contains("unknown"), "{planet_row}");

    // Back to operational: the status page's all clear.
    let clear = component_update("Planet", "operational", "2026-11-29T11:00:00Z");
    assert_eq!(post_status(&app, Some(TOKEN), &clear).await.status(), 200);
    let now = planet(&app).await;
    assert_eq!(
        (&now["status"], &now["since"]),
        (&json!("operational"), &json!("2026-11-29T11:00:00Z"))
    );
}

async fn widget_reports_degrade_an_institution_past_the_threshold(kind: StoreKind) {
    let app = spawn_app_with(kind, |s| {
        with_status_webhook(s);
        s.institutions.degraded_threshold = 3;
    })
    .await;
    let down = format!(
        "last_encountered_error_code=institution_down&last_encountered_error_message=The%20financial%20institution%20is%20down&meta_data_institution_name={PLANET}"
    );
    let first = app.open("ana", "mx_employment", "ios").await;
    let first = first["session_id"].as_str().unwrap().to_owned();
    assert_eq!(app.callback(&first, "exit", &down).await.status(), 302);
    assert_eq!(
        app.callback(&first, "exit", &down).await.status(),
        302,
        "a replay"
    );
    // A warning names no institution: the session's only one is meant.
    let second = app.open("bea", "mx_employment", "android").await;
    let second = second["session_id"].as_str().unwrap().to_owned();
    let warning = "warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable.";
    assert_eq!(app.callback(&second, "event", warning).await.status(), 302);
    // An institution no product offers is not counted (callback input cannot add keys).
    let third = app.open("cy", "mx_employment", "ios").await;
    let third = third["session_id"].as_str().unwrap().to_owned();
    let elsewhere = down.replace(PLANET, "acme_mx_retail");
    assert_eq!(app.callback(&third, "exit", &elsewhere).await.status(), 302);

    let signals = |html: &str| -> Option<String> {
        let start = html.find(&format!("id=\"institution-{PLANET}\""))?;
        let row = &html[start..][..html[start..].find("</tr>")?];
        let cell =
            row.find("data-label=\"Widget signals\">")? + "data-label=\"Widget signals\">".len();
        Some(
            row[cell..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect(),
        )
    };
    let page = until(
        "two signals (the replay counted once)",
        || async { Value::String(support_page(&app).await) },
        |v| signals(v.as_str().unwrap()).as_deref() == Some("2"),
    )
    .await;
    assert!(!page.as_str().unwrap().contains("acme_mx_retail"));
    assert_eq!(planet(&app).await["status"], "operational", "2 of 3");

    let fourth = app.open("dee", "mx_employment", "ios").await;
    let fourth = fourth["session_id"].as_str().unwrap().to_owned();
    let before = time::OffsetDateTime::now_utc() - Duration::from_secs(1);
    assert_eq!(app.callback(&fourth, "exit", &down).await.status(), 302);
    let degraded = until("degraded", || planet(&app), |v| v["status"] == "degraded").await;
    let since = time::OffsetDateTime::parse(
        degraded["since"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(since <= before + Duration::from_secs(60), "{degraded}");

    // The next session's answer carries it, from the replica's snapshot (refreshed every
    // 100 ms here): each try is a new user so no token limit is reached.
    let mut n = 0;
    let opened = until(
        "institutions_status in the session answer",
        || {
            n += 1;
            let sub = format!("eve{n}");
            let app = &app;
            async move { app.open(&sub, "mx_employment", "ios").await }
        },
        |v| v["institutions_status"][0]["status"] == "degraded",
    )
    .await;
    let status = &opened["institutions_status"][0];
    assert_eq!(status["name"], PLANET);
    assert_eq!(status["display_name"], "Planet (sandbox IMSS)");
    assert_eq!(status["since"], degraded["since"]);
}

on_redis_and_cluster!(
    status_page_reports_reach_apps_and_support,
    widget_reports_degrade_an_institution_past_the_threshold,
);

#[tokio::test]
async fn widget_reports_degrade_an_institution_in_memory_too() {
    widget_reports_degrade_an_institution_past_the_threshold(StoreKind::Memory).await;
}

#[tokio::test]
async fn bad_status_webhooks_are_refused_and_record_nothing() {
    let app = spawn_app_with(StoreKind::Redis, with_status_webhook).await;
    let down = component_update("Planet", "major_outage", "2026-11-29T10:00:00Z");
    for token in [None, Some("wrong"), Some("status-page-secre")] {
        let response = post_status(&app, token, &down).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let half_valid = json!({"incident": {
        "name": "x", "status": "investigating", "updated_at": "2026-11-29T10:00:00Z",
        "components": [{"name": "Planet", "status": "major_outage"},
                       {"name": "ISSSTE", "status": "on_fire"}]}});
    for body in [
        "{not json".to_owned(),
        "[]".to_owned(),
        json!({"page": {"id": "belvo"}}).to_string(),
        component_update("Planet", "major_outage", "yesterday"),
        component_update("", "major_outage", "2026-11-29T10:00:00Z"),
        half_valid.to_string(),
    ] {
        let response = post_status(&app, Some(TOKEN), &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_webhook", "{body}");
    }
    assert_eq!(
        planet(&app).await["status"],
        "operational",
        "nothing recorded"
    );
}

#[tokio::test]
async fn the_status_webhook_is_off_without_its_token() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let down = component_update("Planet", "major_outage", "2026-11-29T10:00:00Z");
    let response = post_status(&app, Some(TOKEN), &down).await;
    assert_eq!(response.status(), 404);
    assert_eq!(planet(&app).await["status"], "operational");
}

#[tokio::test]
async fn listing_institutions_needs_an_app_token_and_a_known_product() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let anonymous = app
        .client
        .get(app.url("/v1/institutions?product=mx_employment"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    for query in ["?product=nope", "", "?product="] {
        let response = app
            .client
            .get(app.url(&format!("/v1/institutions{query}")))
            .bearer_auth(app.token("maria"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
}

/// A Belvo whose institutions API answers (with its own names) until `failing` is set, then
/// 500s; counts the institution reads.
fn institutions_stub(failing: Arc<AtomicBool>, reads: Arc<AtomicUsize>) -> String {
    stub_server(move |req: actix_web::HttpRequest| {
        let (failing, reads) = (failing.clone(), reads.clone());
        async move {
            if !req.path().starts_with("/api/institutions") {
                return actix_web::HttpResponse::NotFound().finish();
            }
            reads.fetch_add(1, Ordering::SeqCst);
            if failing.load(Ordering::SeqCst) {
                return actix_web::HttpResponse::InternalServerError().finish();
            }
            actix_web::HttpResponse::Ok().json(json!({"count": 1, "next": null, "previous": null,
                "results": [{"name": PLANET, "display_name": "Planet as Belvo names it"}]}))
        }
    })
}

#[tokio::test]
async fn while_belvo_is_down_institutions_keep_their_last_names_or_show_codes() {
    let (failing, reads) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let belvo = institutions_stub(failing.clone(), reads.clone());
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.belvo.base_url = Some(belvo.parse().unwrap());
        s.institutions.names_ttl = Duration::from_millis(100);
        s.institutions.status_refresh = Duration::from_millis(50);
    })
    .await;
    let named = until(
        "Belvo's name",
        || planet(&app),
        |v| v["display_name"] == "Planet as Belvo names it",
    )
    .await;
    assert_eq!(named["status"], "operational");

    failing.store(true, Ordering::SeqCst);
    let seen = reads.load(Ordering::SeqCst);
    until(
        "a failed read after Belvo went down",
        || async { json!(reads.load(Ordering::SeqCst)) },
        |v| v.as_u64().unwrap() as usize >= seen + 2,
    )
    .await;
    assert_eq!(
        planet(&app).await["display_name"],
        "Planet as Belvo names it"
    );

    // Never read: the codes.
    let never = Arc::new(AtomicBool::new(true));
    let down = institutions_stub(never, Arc::new(AtomicUsize::new(0)));
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.belvo.base_url = Some(down.parse().unwrap());
    })
    .await;
    let shown = planet(&app).await;
    assert_eq!(shown["display_name"], PLANET);
    assert_eq!(shown["status"], "operational");
}
