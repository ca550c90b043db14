//! `/openapi.json` describes the server as it really is: every documented operation is served,
//! every route the server registers for the API is documented, and real answers have the
//! documented shape.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, StoreKind, TestApp};

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Every (METHOD, path template) the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    assert!(ops.len() >= 10, "{ops:?}");
    for (method, template) in ops {
        let path = template
            .replace("{session_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{kind}", "success");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_ne!(status, 405, "{method} {template}");
        if status == 404 {
            let body: Value = response.json().await.unwrap_or_default();
            assert_ne!(
                body["error"]["message"], "route not found",
                "{method} {template} is documented but not served"
            );
        }
    }
}

#[tokio::test]
async fn every_api_route_the_server_registers_is_documented() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let documented = operations(&document(&app).await);
    let registered: BTreeSet<(String, String)> = belvo_bff::routes::api_routes(1024)
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(registered, documented);
}

/// Every field of `value` is a property of the component `schema`, and every property the
/// schema requires is there.
fn assert_shape(doc: &Value, value: &Value, schema: &str) {
    let component = &doc["components"]["schemas"][schema];
    let properties: BTreeSet<&String> = component["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema}"))
        .keys()
        .collect();
    let keys: BTreeSet<&String> = value.as_object().unwrap().keys().collect();
    assert!(
        keys.is_subset(&properties),
        "{schema}: {keys:?} not in {properties:?}"
    );
    for required in component["required"].as_array().into_iter().flatten() {
        let required = required.as_str().unwrap();
        assert!(
            value.get(required).is_some(),
            "{schema}: no {required} in {value}"
        );
    }
}

#[tokio::test]
async fn answers_have_the_documented_shape() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let doc = document(&app).await;

    let created = app.open("maria", "mx_employment", "ios").await;
    assert_shape(&doc, &created, "CreatedSession");
    assert_shape(&doc, &created["callback_urls"], "CallbackUrls");
    let id = created["session_id"].as_str().unwrap();
    app.callback(id, "exit", "last_encountered_error_code=login_error")
        .await;
    let session = app.status("maria", id).await;
    assert_shape(&doc, &session, "Session");
    assert_shape(&doc, &session["last_error"], "LastError");
    assert_shape(&doc, &session["last_error"]["explanation"], "Explanation");

    let error: Value = app
        .client
        .get(app.url("/v1/widget-sessions/unknown"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_shape(&doc, &error, "ErrorBody");
    assert_shape(&doc, &error["error"], "ErrorDetail");

    // Every documented error answer of the mobile API uses that body.
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}
