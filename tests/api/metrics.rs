//! `/metrics`: what Prometheus scrapes. Counters are process-wide and tests run in parallel, so
//! these tests check that their own traffic shows up, never exact totals.

use crate::helpers::{spawn_app, spawn_app_with, StoreKind, TestApp};

const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";

pub async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

/// The sum of every series of `name` carrying all of `labels` (other labels may be present).
pub fn value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            let wanted = metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            wanted.then(|| number.parse::<f64>().ok()).flatten()
        })
        .sum()
}

#[tokio::test]
async fn a_session_and_its_callback_show_up_by_route_template_and_outcome() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    assert_eq!(app.callback(id, "success", SUCCESS).await.status(), 302);
    assert_eq!(app.callback(id, "success", SUCCESS).await.status(), 302);

    let text = scrape(&app).await;

    let created = [
        ("method", "POST"),
        ("route", "/v1/widget-sessions"),
        ("status", "201"),
    ];
    assert!(
        value(&text, "http_requests_total", &created) >= 1.0,
        "{text}"
    );
    let callbacks = [
        ("method", "GET"),
        ("route", "/callbacks/{session_id}/{kind}"),
        ("status", "302"),
    ];
    assert!(value(&text, "http_requests_total", &callbacks) >= 2.0);
    assert!(!text.contains(id), "session ids never become labels");
    let applied = [
        ("kind", "success"),
        ("source", "callback"),
        ("outcome", "applied"),
    ];
    assert!(value(&text, "bff_callbacks_total", &applied) >= 1.0);
    let replay = [("kind", "success"), ("outcome", "replay")];
    assert!(value(&text, "bff_callbacks_total", &replay) >= 1.0);
    let token_calls = [("endpoint", "token"), ("outcome", "ok")];
    assert!(
        value(
            &text,
            "bff_belvo_request_duration_seconds_count",
            &token_calls
        ) >= 1.0
    );
    let latency = [("route", "/v1/widget-sessions"), ("le", "+Inf")];
    assert!(value(&text, "http_request_duration_seconds_bucket", &latency) >= 1.0);
}

#[tokio::test]
async fn unknown_paths_are_counted_under_one_label() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/no/such/path/4b1d"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let text = scrape(&app).await;

    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(value(&text, "http_requests_total", &unmatched) >= 1.0);
    assert!(!text.contains("4b1d"));
}

#[tokio::test]
async fn unexplained_error_codes_are_counted() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    let exit = "last_encountered_error_code=brand_new_code&meta_data_step=abandon-survey";
    assert_eq!(app.callback(id, "exit", exit).await.status(), 302);
    app.status("maria", id).await;

    let text = scrape(&app).await;

    assert!(value(&text, "bff_unexplained_error_codes_total", &[]) >= 1.0);
    assert!(text.contains("# HELP bff_unexplained_error_codes_total"));
}

#[tokio::test]
async fn belvo_failures_are_counted_by_endpoint_and_error() {
    let app = spawn_app_with(StoreKind::Memory, |settings| {
        // Nothing listens on port 1: the token call cannot connect.
        settings.belvo.base_url = Some("http://127.0.0.1:1".parse().unwrap());
    })
    .await;
    let response = app
        .post_session(
            "maria",
            &serde_json::json!({"product": "mx_employment", "platform": "ios"}),
        )
        .await;
    assert_eq!(response.status(), 502);

    let text = scrape(&app).await;

    let unreachable = [("endpoint", "token"), ("error", "unreachable")];
    assert!(value(&text, "bff_belvo_errors_total", &unreachable) >= 1.0);
    let failed = [("route", "/v1/widget-sessions"), ("status", "502")];
    assert!(value(&text, "http_requests_total", &failed) >= 1.0);
}
