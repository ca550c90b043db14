//! `/openapi.json` describes the server as it really is: every documented operation is served,
//! every route the server registers for the API is documented, and real answers have the
//! documented shape.

use std::collections::BTreeSet;

use std::time::Duration;

use belvo_bff::auth::Role;
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

/// The component a documented answer refers to, e.g. `Link` for `GET /v1/links/{link_id}` 200.
fn documented_schema(doc: &Value, method: &str, path: &str, status: &str) -> String {
    let reference = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
        ["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path} {status} refers to no schema"));
    reference
        .strip_prefix("#/components/schemas/")
        .unwrap()
        .to_owned()
}

/// Reads `path` as `token`, expecting a 200.
async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn assert_link_shape(doc: &Value, link: &Value) {
    assert_shape(doc, link, "Link");
    for resource in link["resources"].as_object().unwrap().values() {
        assert_shape(doc, resource, "LinkResource");
    }
}

#[tokio::test]
async fn link_answers_have_the_documented_shape() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let doc = document(&app).await;
    let token = app.token("maria");

    // A link made through the API flow (no session) ...
    let response = app
        .client
        .post(app.url("/v1/links"))
        .bearer_auth(&token)
        .json(&json!({"product": "co_employment", "username": "1020304050"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let schema = documented_schema(&doc, "post", "/v1/links", "201");
    assert_eq!(schema, "CreatedLink");
    assert_shape(&doc, &created, &schema);
    let api_link = created["link_id"].as_str().unwrap().to_owned();

    // ... and one made through the widget, with its session and resources.
    let (session, widget_link) = app
        .connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    let status = app.status_until_resources("maria", &session).await;
    assert_eq!(status["link_verified"], true);

    let links = get_ok(&app, &token, "/v1/links").await;
    let schema = documented_schema(&doc, "get", "/v1/links", "200");
    assert_eq!(schema, "Links");
    assert_shape(&doc, &links, &schema);
    let links = links["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{links:?}");
    for link in links {
        assert_link_shape(&doc, link);
    }

    let schema = documented_schema(&doc, "get", "/v1/links/{link_id}", "200");
    assert_eq!(schema, "Link");
    let mut widget = Value::Null;
    for _ in 0..20 {
        let response = app
            .client
            .get(app.url(&format!("/v1/links/{widget_link}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            widget = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_link_shape(&doc, &widget);
    assert_eq!(widget["session_id"], session.as_str());
    assert!(!widget["resources"].as_object().unwrap().is_empty());
    let api = get_ok(&app, &token, &format!("/v1/links/{api_link}")).await;
    assert_link_shape(&doc, &api);
    assert_eq!(api["session_id"], Value::Null, "present, and null");

    let page = get_ok(
        &app,
        &token,
        &format!("/v1/links/{api_link}/employments?page_size=1"),
    )
    .await;
    let schema = documented_schema(&doc, "get", "/v1/links/{link_id}/{resource}", "200");
    assert_eq!(schema, "DataPage");
    assert_shape(&doc, &page, &schema);
    assert_eq!(page["previous"], Value::Null, "present, and null");
}

#[tokio::test]
async fn branding_answers_have_the_documented_shape() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let doc = document(&app).await;
    let token = app.staff_token("ci-bot", Role::Admin);
    let path = "/v1/admin/branding/{product}";

    let current = get_ok(&app, &token, "/v1/admin/branding/mx_employment").await;
    let schema = documented_schema(&doc, "get", path, "200");
    assert_eq!(schema, "ProductBranding");
    assert_shape(&doc, &current, &schema);
    assert_shape(&doc, &current["branding"], "Branding");
    assert_eq!(
        current["updated_at"],
        Value::Null,
        "version 0: present, and null"
    );
    assert!(current.get("changed").is_none(), "only PUT says");

    let body = json!({
        "branding": {"company_name": "ACME", "company_logo": "https://cdn.acme.mx/logo.svg"},
        "theme": [{"css_key": "--colorPrimary", "value": "#00AA55"}]
    });
    assert_eq!(
        doc["paths"][path]["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BrandingUpdate"
    );
    assert_shape(&doc, &body, "BrandingUpdate");
    let response = app
        .client
        .put(app.url("/v1/admin/branding/mx_employment"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let saved: Value = response.json().await.unwrap();
    assert_eq!(documented_schema(&doc, "put", path, "200"), schema);
    assert_shape(&doc, &saved, &schema);
    assert_shape(&doc, &saved["branding"], "Branding");
    for entry in saved["theme"].as_array().unwrap() {
        assert_shape(&doc, entry, "ThemeEntry");
    }
    assert_eq!(saved["changed"], true);
}

#[tokio::test]
async fn operation_ids_are_unique_and_products_are_the_configured_ones() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let doc = document(&app).await;
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(
                ids.insert(id.clone()),
                "{method} {path}: {id} is used twice"
            );
        }
    }
    let configured: Vec<&str> = app.settings.products.keys().map(|p| p.as_str()).collect();
    for schema in ["OpenRequest", "CreateLinkRequest"] {
        assert_eq!(
            doc["components"]["schemas"][schema]["properties"]["product"]["enum"],
            json!(configured),
            "{schema}"
        );
    }
}

/// What the server refuses anyway is in the schema, so generated clients refuse it first.
#[tokio::test]
async fn request_schemas_say_what_the_server_enforces() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let doc = document(&app).await;
    let open = &doc["components"]["schemas"]["OpenRequest"];
    assert_eq!(open["additionalProperties"], false);
    assert_eq!(
        open["properties"]["platform"]["enum"],
        json!(["ios", "android", "web"])
    );
    let institutions = &open["properties"]["institutions"];
    assert_eq!(institutions["minItems"], 1);
    assert_eq!(institutions["maxItems"], 20);
    assert_eq!(
        institutions["items"]["pattern"],
        belvo_bff::domain::ids::Code::PATTERN
    );
    for schema in ["CreateLinkRequest", "BrandingUpdate"] {
        assert_eq!(
            doc["components"]["schemas"][schema]["additionalProperties"], false,
            "{schema}"
        );
    }

    let params = |method: &str, path: &str| -> Vec<Value> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .clone()
    };
    let param = |list: &[Value], name: &str| -> Value {
        list.iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))["schema"]
            .clone()
    };
    let data = params("get", "/v1/links/{link_id}/{resource}");
    assert_eq!(param(&data, "page")["minimum"], 1);
    assert_eq!(param(&data, "page_size")["minimum"], 1);
    assert_eq!(param(&data, "page_size")["maximum"], 1000);
    let callback = params("get", "/callbacks/{session_id}/{kind}");
    let kind = param(&callback, "kind");
    let kinds = match kind.get("$ref").and_then(Value::as_str) {
        Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()]["enum"].clone(),
        None => kind["enum"].clone(),
    };
    assert_eq!(
        kinds,
        json!(["success", "exit", "event", "error", "warning"])
    );
    // A code, or empty (the same as absent).
    assert_eq!(
        param(&callback, "error")["pattern"],
        "^[A-Za-z0-9_-]{0,64}$"
    );
    let if_match = param(&params("put", "/v1/admin/branding/{product}"), "If-Match");
    assert!(if_match["pattern"].is_string(), "{if_match}");

    // Answers every JSON body can get, on every operation that takes one.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("requestBody").is_none() {
                continue;
            }
            for status in ["400", "413", "415"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
}
