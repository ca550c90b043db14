//! Bad input gets a clear JSON error, never a 500, and loses nothing.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    assert_eq!(body["error"]["request_id"], request_id.as_str());
    body
}

#[tokio::test]
async fn malformed_session_requests_get_clear_json_errors() {
    let app = spawn_app().await;
    let post_raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/v1/widget-sessions"))
            .bearer_auth(app.token("maria"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    assert_error(
        post_raw("{not json", "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        post_raw("[]", "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        post_raw("{}", "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;

    let cases = [
        (json!({"product": "mx_employment"}), "invalid_json"),
        (
            json!({"product": "mx_employment", "platform": "ios", "extra": 1}),
            "invalid_json",
        ),
        (
            json!({"product": "us_payroll", "platform": "ios"}),
            "unknown_product",
        ),
        (
            json!({"product": "MX_EMPLOYMENT", "platform": "ios"}),
            "unknown_product",
        ),
        (
            json!({"product": "mx_employment", "platform": "windows"}),
            "invalid_request",
        ),
        (
            json!({"product": "mx_employment", "platform": "ios", "access_mode": "forever"}),
            "invalid_json",
        ),
        (
            json!({"product": "mx_employment", "platform": "ios", "locale": "fr"}),
            "invalid_request",
        ),
        (
            json!({"product": "mx_employment", "platform": "ios", "institutions": []}),
            "invalid_request",
        ),
        (
            json!({"product": "mx_employment", "platform": "ios", "institutions": ["a b"]}),
            "invalid_request",
        ),
        (json!({"product": 7, "platform": "ios"}), "invalid_json"),
    ];
    for (body, code) in cases {
        let response = app.post_session("maria", &body).await;
        assert_error(response, 400, code).await;
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app().await;
    let huge =
        json!({"product": "mx_employment", "platform": "ios", "locale": "x".repeat(100_000)});
    let response = app.post_session("maria", &huge).await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn unknown_routes_and_bad_queries_get_json_errors() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/v2/nothing")).send().await.unwrap();
    assert_error(response, 404, "not_found").await;

    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    for query in ["wait=abc", "wait=-1", "wait=99999999999"] {
        let response = app
            .client
            .get(app.url(&format!("/v1/widget-sessions/{id}?{query}")))
            .bearer_auth(app.token("maria"))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "invalid_query").await;
    }
    let too_long = app
        .client
        .get(app.url(&format!("/v1/widget-sessions/{id}?wait=31")))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap();
    assert_error(too_long, 400, "invalid_request").await;
}

#[tokio::test]
async fn oversized_headers_are_refused_without_a_500() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("X-Junk", "x".repeat(64 * 1024))
        .send()
        .await;
    assert_error(response.unwrap(), 431, "headers_too_large").await;
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn malformed_ids_in_paths_are_unknown_ids_named_by_what_they_stand_for() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    let upper = id.to_uppercase();
    for (path, what) in [
        (format!("/v1/widget-sessions/{upper}"), "session"),
        ("/v1/widget-sessions/..%2F..%2Fetc".to_owned(), "session"),
        ("/v1/links/not-a-uuid".to_owned(), "link"),
        ("/v1/links/not-a-uuid/owners".to_owned(), "link"),
    ] {
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(app.token("maria"))
            .send()
            .await
            .unwrap();
        let body = assert_error(response, 404, "not_found").await;
        assert_eq!(
            body["error"]["message"],
            format!("{what} not found"),
            "{path}"
        );
    }
    let response = app
        .client
        .post(app.url(&format!("/v1/widget-sessions/{upper}/events")))
        .bearer_auth(app.token("maria"))
        .json(&json!({"kind": "exit"}))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found").await;
    for path in [
        format!("/callbacks/{upper}/exit"),
        format!("/callbacks/{id}/cancel"),
    ] {
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        let body = assert_error(response, 404, "not_found").await;
        assert_eq!(
            body["error"]["message"], "widget session not found",
            "{path}"
        );
    }
    // Without a token, the caller learns nothing about the id's shape: 401 first.
    let response = app
        .client
        .get(app.url("/v1/links/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
