//! The emulator as Belvo's own SDKs meet it (SPEC §15): the login check `GET /api/`, absolute
//! `next` links, institutions, links list and delete, Belvo-shaped refusals everywhere under
//! `/emulator`, the control reset, and Brazil open-finance fixtures matching the webhooks.
//! (The SDKs themselves run in scripts/sdk_checks.sh.)

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, StoreKind, TestApp};

const ID: &str = "dev-secret-id";
const PW: &str = "dev-secret-password";

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(&format!("/emulator{path}")))
        .basic_auth(ID, Some(PW));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Belvo's error list: `[{code, message, request_id, field?}]`, one entry.
async fn belvo_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let error = &body[0];
    assert!(
        error["code"].is_string()
            && error["message"].is_string()
            && error["request_id"].is_string(),
        "{body}"
    );
    error.clone()
}

async fn api_link(app: &TestApp, institution: &str, username: &str) -> String {
    let response = call(
        app,
        reqwest::Method::POST,
        "/api/links/",
        Some(json!({"institution": institution, "username": username, "access_mode": "single"})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let link: Value = response.json().await.unwrap();
    link["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_sdk_login_check_answers_with_the_credentials_only() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let root = app.emulator_get("/api/").await;
    assert_eq!(root["links"], app.url("/emulator/api/links/"));
    let anonymous = app
        .client
        .get(app.url("/emulator/api/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        belvo_error(anonymous, 401).await["code"],
        "authentication_failed"
    );
    let wrong = app
        .client
        .get(app.url("/emulator/api/"))
        .basic_auth(ID, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn next_and_previous_are_absolute_urls_that_lead_to_the_last_page() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let link = api_link(&app, "pila_co_employment", "1020304050").await;
    let first = app
        .emulator_get(&format!("/api/co/employments/?link={link}&page_size=1"))
        .await;
    let count = first["count"].as_u64().unwrap();
    assert!(count >= 2);
    assert!(first["previous"].is_null());
    let mut next = first["next"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with(&app.url("/emulator/api/co/employments/?")),
        "{next}"
    );
    let mut ids = vec![first["results"][0]["id"].clone()];
    while !next.is_empty() {
        let page: Value = app
            .client
            .get(&next)
            .basic_auth(ID, Some(PW))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(page["previous"].as_str().unwrap().starts_with("http://"));
        ids.push(page["results"][0]["id"].clone());
        next = page["next"].as_str().unwrap_or_default().to_owned();
    }
    ids.dedup();
    assert_eq!(ids.len() as u64, count);
}

#[tokio::test]
async fn institutions_are_listed_with_belvos_fields_and_filters() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let all = app.emulator_get("/api/institutions/?page_size=1000").await;
    let count = all["count"].as_u64().unwrap();
    assert_eq!(all["results"].as_array().unwrap().len() as u64, count);
    for institution in all["results"].as_array().unwrap() {
        for field in [
            "id",
            "name",
            "display_name",
            "type",
            "country_codes",
            "resources",
            "status",
            "integration_type",
            "form_fields",
            "features",
        ] {
            assert!(!institution[field].is_null(), "{field} in {institution}");
        }
    }
    let brazil = app
        .emulator_get("/api/institutions/?country_code=BR&type=bank")
        .await;
    let names: Vec<&str> = brazil["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"erebor_br_retail") && !names.contains(&"inss_br_employment"),
        "{names:?}"
    );
    assert_eq!(
        brazil["results"][0]["resources"],
        json!(["ACCOUNTS", "OWNERS", "TRANSACTIONS"])
    );
}

#[tokio::test]
async fn links_are_listed_filtered_and_deleted() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let mx = api_link(&app, "imss_mx_employment", "GODE561231HDFRRN09").await;
    let co = api_link(&app, "pila_co_employment", "1020304050").await;
    let listed = app.emulator_get("/api/links/").await;
    assert_eq!(listed["count"], 2);
    let only_co = app
        .emulator_get("/api/links/?institution=pila_co_employment")
        .await;
    assert_eq!(only_co["count"], 1);
    assert_eq!(only_co["results"][0]["id"], co);

    let deleted = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/links/{co}/"),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let gone = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/links/{co}/"),
        None,
    )
    .await;
    assert_eq!(belvo_error(gone, 404).await["code"], "not_found");
    let again = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/links/{co}/"),
        None,
    )
    .await;
    assert_eq!(again.status(), 404);
    let data = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/owners/?link={co}"),
        None,
    )
    .await;
    assert_eq!(data.status(), 404, "a deleted link has no data");
    assert_eq!(
        app.emulator_get("/api/links/").await["results"][0]["id"],
        mx
    );
}

#[tokio::test]
async fn every_refusal_under_the_emulator_is_a_belvo_error_list() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let token = json!({"id": ID, "password": PW, "scopes": "read_institutions,write_links",
        "widget": {"callback_urls": {"success": "app://s", "exit": "app://e", "event": "app://v"}}});
    let no_resources = call(
        &app,
        reqwest::Method::POST,
        "/api/token/",
        Some(token.clone()),
    )
    .await;
    let error = belvo_error(no_resources, 400).await;
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("required"), Some("fetch_resources"))
    );

    let mut no_widget = token.clone();
    no_widget["fetch_resources"] = json!(["OWNERS"]);
    no_widget.as_object_mut().unwrap().remove("widget");
    let error = belvo_error(
        call(&app, reqwest::Method::POST, "/api/token/", Some(no_widget)).await,
        400,
    )
    .await;
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("required"), Some("widget"))
    );

    let no_mode = json!({"institution": "pila_co_employment", "username": "1020304050"});
    let error = belvo_error(
        call(&app, reqwest::Method::POST, "/api/links/", Some(no_mode)).await,
        400,
    )
    .await;
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("required"), Some("access_mode"))
    );

    let not_json = app
        .client
        .post(app.url("/emulator/api/links/"))
        .basic_auth(ID, Some(PW))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(belvo_error(not_json, 400).await["code"], "invalid");

    let unknown = call(&app, reqwest::Method::GET, "/api/nothing/", None).await;
    assert_eq!(belvo_error(unknown, 404).await["code"], "not_found");
    let wrong_method = call(&app, reqwest::Method::PUT, "/api/owners/", None).await;
    assert_eq!(wrong_method.headers()["allow"], "GET");
    assert_eq!(
        belvo_error(wrong_method, 405).await["code"],
        "method_not_allowed"
    );
    let bad_page = call(
        &app,
        reqwest::Method::GET,
        "/api/institutions/?page=abc",
        None,
    )
    .await;
    assert_eq!(belvo_error(bad_page, 400).await["code"], "invalid");

    // The widget keeps its HTML pages.
    let widget = app
        .client
        .post(app.url("/emulator/widget/"))
        .send()
        .await
        .unwrap();
    assert_eq!(widget.status(), 405);
    assert!(widget.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn the_control_reset_forgets_attempts_so_forbidden_by_host_can_be_replayed() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let attempt = || {
        call(
            &app,
            reqwest::Method::POST,
            "/api/links/",
            Some(
                json!({"institution": "imss_mx_employment", "username": "GODE561231HDFRRN09", "access_mode": "single"}),
            ),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.status(), 201);
    }
    assert_eq!(
        belvo_error(attempt().await, 403).await["code"],
        "forbidden_by_host"
    );

    let anonymous = app
        .client
        .post(app.url("/emulator/control/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let reset = call(&app, reqwest::Method::POST, "/control/reset", None).await;
    assert_eq!(reset.status(), 200);
    let cleared: Value = reset.json().await.unwrap();
    assert!(cleared["cleared"]
        .as_array()
        .unwrap()
        .contains(&json!("attempt_counters")));
    assert_eq!(attempt().await.status(), 201);
    assert_eq!(
        app.emulator_get("/_emulator/stats").await["link_requests"],
        1
    );
}

#[tokio::test]
async fn open_finance_fixtures_hold_what_the_webhooks_announce() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let (session, link) = app.connect("maria", "br_ofda", "erebor_br_retail").await;
    let status = app.status_until_resources("maria", &session).await;
    let announced = |r: &str| status["resources"][r]["total"].as_u64().unwrap();

    let accounts = app
        .emulator_get(&format!("/api/accounts/?link={link}"))
        .await;
    assert_eq!(accounts["count"].as_u64().unwrap(), announced("ACCOUNTS"));
    let account_ids: Vec<&Value> = accounts["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(
        accounts["results"][0]["institution"]["name"],
        "erebor_br_retail"
    );
    assert_eq!(accounts["results"][0]["currency"], "BRL");

    let transactions = app
        .emulator_get(&format!("/api/transactions/?link={link}&page_size=1000"))
        .await;
    assert_eq!(
        transactions["count"].as_u64().unwrap(),
        announced("TRANSACTIONS")
    );
    for t in transactions["results"].as_array().unwrap() {
        assert!(account_ids.contains(&&t["account"]["id"]), "{t}");
    }
    let june = app
        .emulator_get(&format!(
            "/api/transactions/?link={link}&value_date__gte=2024-06-01&value_date__lte=2024-06-30"
        ))
        .await;
    let in_june = june["results"].as_array().unwrap();
    assert!(!in_june.is_empty() && (in_june.len() as u64) < announced("TRANSACTIONS"));
    assert!(in_june
        .iter()
        .all(|t| t["value_date"].as_str().unwrap().starts_with("2024-06")));
    let bad_date = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/transactions/?link={link}&value_date__gte=June"),
        None,
    )
    .await;
    assert_eq!(belvo_error(bad_date, 400).await["field"], "value_date__gte");
}
