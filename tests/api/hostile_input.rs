//! Random, malformed, oversized, forged and replayed input at every endpoint: a clear 4xx (or
//! the normal answer), never a 500.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn assert_not_5xx(status: reqwest::StatusCode, what: &str) {
    assert!(status.as_u16() < 500, "{what} answered {status}");
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
    token: bool,
) -> reqwest::StatusCode {
    let mut request = app.client.request(method, app.url(path));
    if token {
        request = request.bearer_auth(app.token("maria"));
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn random_query_strings_and_paths_never_get_a_500() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let queries = samples("[ -~]{0,200}", 150);
    for (i, raw) in queries.iter().enumerate() {
        let encoded: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        for kind in ["success", "exit", "event", "error", "warning"] {
            // Both as one opaque value and as a raw query (which may be malformed).
            let raw_query = raw.replace(['#', ' '], "");
            for query in [format!("link={encoded}&institution={encoded}"), raw_query] {
                let path = format!("/callbacks/{id}/{kind}?{query}");
                let status = send(&app, reqwest::Method::GET, &path, None, false).await;
                assert_not_5xx(status, &path);
            }
        }
        let path = format!("/v1/widget-sessions/{encoded}?wait=0");
        assert_not_5xx(
            send(&app, reqwest::Method::GET, &path, None, true).await,
            &path,
        );
        if i % 10 == 0 {
            let path = format!("/v1/links/{encoded}/owners");
            assert_not_5xx(
                send(&app, reqwest::Method::GET, &path, None, true).await,
                &path,
            );
        }
    }
}

#[tokio::test]
async fn random_bodies_never_get_a_500() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let mut bodies = samples("[ -~]{0,300}", 100);
    bodies.extend([
        "null".to_owned(),
        "[]".to_owned(),
        "{}".to_owned(),
        "\"string\"".to_owned(),
        json!({"product": "mx_employment", "platform": "ios", "institutions": [1, 2]}).to_string(),
        json!({"product": "br_ofda", "platform": "ios", "consent": {"identification_info": [{"type": "CPF", "number": 76109277673u64, "name": "x"}]}}).to_string(),
        json!({"kind": "success", "link": {"nested": true}}).to_string(),
        json!({"product": "mx_employment", "username": ["GODE561231HDFRRN09"]}).to_string(),
        "{\"a\":".repeat(500),
    ]);
    let endpoints = [
        (
            reqwest::Method::POST,
            "/v1/widget-sessions".to_owned(),
            true,
        ),
        (
            reqwest::Method::POST,
            format!("/v1/widget-sessions/{id}/events"),
            true,
        ),
        (reqwest::Method::POST, "/v1/links".to_owned(), true),
        (reqwest::Method::POST, "/webhooks/belvo".to_owned(), false),
    ];
    for body in &bodies {
        for (method, path, token) in &endpoints {
            let status = send(&app, method.clone(), path, Some(body.clone()), *token).await;
            assert_not_5xx(status, &format!("{method} {path} {body}"));
        }
        let webhook = app
            .client
            .post(app.url("/webhooks/belvo"))
            .bearer_auth("dev-webhook-token")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_not_5xx(webhook.status(), &format!("webhook {body}"));
    }
    assert_eq!(
        app.status("maria", &id).await["status"],
        "pending",
        "nothing random got recorded"
    );
}
