//! Opening widget sessions for each product: what Belvo receives, what the app gets.

use serde_json::{json, Value};

use crate::helpers::{jwt_claims, param, query_of, spawn_app};

fn assert_callback_urls(app_address: &str, session: &Value, token_request: &Value) {
    let id = session["session_id"].as_str().unwrap();
    let expected = json!({
        "success": format!("{app_address}/callbacks/{id}/success"),
        "exit": format!("{app_address}/callbacks/{id}/exit"),
        "event": format!("{app_address}/callbacks/{id}/event"),
    });
    assert_eq!(token_request["widget"]["callback_urls"], expected);
    assert_eq!(session["callback_urls"], expected);
}

#[tokio::test]
async fn mx_employment_session_asks_for_employment_records_with_mx_locale() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let sent = app.token_request_for(url).await;

    assert_eq!(sent["fetch_resources"], json!(["EMPLOYMENT_RECORDS"]));
    assert_eq!(sent["scopes"], "read_institutions,write_links");
    assert_eq!(sent["stale_in"], "365d");
    assert_eq!(sent["widget"]["branding"]["company_name"], "ACME");
    assert!(sent["widget"].get("openfinance_feature").is_none());
    assert_eq!(
        sent["password"], "",
        "the emulator never keeps the password"
    );
    assert_callback_urls(&app.address, &session, &sent);

    assert!(url.starts_with(&format!("{}/emulator/widget/?", app.address)));
    assert_eq!(param(url, "locale").as_deref(), Some("mx"));
    // Embedded runs against the sandbox institution list.
    assert_eq!(
        param(url, "institutions").as_deref(),
        Some("planet_mx_employment")
    );
    assert_eq!(param(url, "access_mode").as_deref(), Some("single"));
    assert_eq!(param(url, "mode"), None);
    assert_eq!(session["product"], "mx_employment");
}

#[tokio::test]
async fn br_employment_session_asks_for_employments_and_owners_in_portuguese() {
    let app = spawn_app().await;
    let session = app.open("joao", "br_employment", "android").await;
    let url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let sent = app.token_request_for(url).await;

    assert_eq!(sent["fetch_resources"], json!(["EMPLOYMENTS", "OWNERS"]));
    assert_eq!(sent["scopes"], "read_institutions,write_links");
    assert_eq!(sent["stale_in"], "365d");
    assert_callback_urls(&app.address, &session, &sent);
    assert_eq!(param(url, "locale").as_deref(), Some("pt"));
    assert_eq!(
        param(url, "institutions").as_deref(),
        Some("inss_br_employment")
    );
    assert_eq!(param(url, "access_mode").as_deref(), Some("single"));
}

#[tokio::test]
async fn co_employment_session_asks_for_employments_in_spanish() {
    let app = spawn_app().await;
    let session = app.open("camila", "co_employment", "ios").await;
    let url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let sent = app.token_request_for(url).await;

    assert_eq!(sent["fetch_resources"], json!(["EMPLOYMENTS", "OWNERS"]));
    assert_callback_urls(&app.address, &session, &sent);
    assert_eq!(param(url, "locale").as_deref(), Some("es"));
    assert_eq!(
        param(url, "institutions").as_deref(),
        Some("pila_co_employment")
    );
}

#[tokio::test]
async fn br_ofda_session_sends_consent_purpose_and_open_finance_params() {
    let app = spawn_app().await;
    let session = app.open("ralph", "br_ofda", "ios").await;
    let url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let sent = app.token_request_for(url).await;

    assert_eq!(
        sent["fetch_resources"],
        json!(["ACCOUNTS", "TRANSACTIONS", "OWNERS"])
    );
    assert_eq!(
        sent["scopes"],
        "read_institutions,write_links,read_consents,write_consents,write_consent_callback,delete_consents"
    );
    assert_eq!(sent["stale_in"], "300d");
    assert_eq!(
        sent["credentials_storage"], "store",
        "recurrent links store credentials"
    );
    let widget = &sent["widget"];
    assert_eq!(widget["openfinance_feature"], "consent_link_creation");
    assert!(widget["purpose"]
        .as_str()
        .unwrap()
        .starts_with("Soluções financeiras"));
    assert_eq!(
        widget["consent"]["terms_and_conditions_url"],
        "https://www.belvo.com"
    );
    assert_eq!(
        widget["consent"]["permissions"],
        json!(["REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS"])
    );
    assert_eq!(
        widget["consent"]["identification_info"],
        json!([{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}])
    );
    assert_callback_urls(&app.address, &session, &sent);

    let params = query_of(url);
    let expected = [
        ("locale", "pt"),
        ("mode", "webapp"),
        ("integration_type", "openfinance"),
        ("institution_types", "retail"),
        ("country_codes", "BR"),
        ("resources", "OWNERS,ACCOUNTS"),
        ("access_mode", "recurrent"),
    ];
    for (key, value) in expected {
        assert!(
            params.iter().any(|(k, v)| k == key && v == value),
            "{key}={value} missing from {url}"
        );
    }
    assert_eq!(
        param(url, "institutions"),
        None,
        "OFDA shows every institution"
    );
    assert!(
        url.contains("resources=OWNERS,ACCOUNTS"),
        "lists keep their commas"
    );
}

#[tokio::test]
async fn external_id_is_a_stable_pseudonym_never_the_raw_user_id() {
    let app = spawn_app().await;
    let first = app.open("maria@example.com", "mx_employment", "ios").await;
    let second = app.open("maria@example.com", "br_employment", "ios").await;
    let other = app.open("pedro@example.com", "mx_employment", "ios").await;
    let mut ids = Vec::new();
    for s in [&first, &second, &other] {
        let widget = app.belvo_widget(s["widget_url"].as_str().unwrap()).await;
        ids.push(param(&widget, "external_id").unwrap());
    }
    let id = |s: &Value| {
        let at = [&first, &second, &other]
            .iter()
            .position(|x| x["session_id"] == s["session_id"])
            .unwrap();
        ids[at].clone()
    };

    let external_id = id(&first);
    assert!(
        external_id.starts_with("u_") && external_id.len() == 28,
        "{external_id}"
    );
    assert!(external_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    assert!(!external_id.contains("maria"));
    assert_eq!(external_id, id(&second));
    assert_ne!(external_id, id(&other));
}

/// SPEC §11: `expires_at` is the session's deadline (`sessions.pending_timeout`, 24 h by
/// default), no longer the Belvo token's `exp` (stage 1), and `widget_url` is this server's.
#[tokio::test]
async fn expires_at_is_the_sessions_deadline_and_widget_url_is_ours() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    assert_eq!(session["widget_url"], app.url(&format!("/w/{id}")));
    assert_eq!(session["mode"], "connect");
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let status = app.status("maria", id).await;
    let created = parse(&status["created_at"]);
    let expires_at = parse(&session["expires_at"]);
    assert_eq!(expires_at - created, time::Duration::hours(24));
    assert_eq!(status["expires_at"], session["expires_at"]);
    let url = &app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let exp = jwt_claims(&param(url, "access_token").unwrap())["exp"]
        .as_i64()
        .unwrap();
    assert!(
        exp < expires_at.unix_timestamp(),
        "the token is shorter-lived"
    );
}

#[tokio::test]
async fn apps_may_narrow_institutions_and_choose_access_mode_but_not_widen() {
    let app = spawn_app_with_production_lists().await;
    let narrowed = app
        .post_session(
            "maria",
            &json!({"product": "mx_employment", "platform": "ios",
                    "institutions": ["imss_mx_employment"], "access_mode": "recurrent"}),
        )
        .await;
    assert_eq!(narrowed.status(), 201);
    let body: Value = narrowed.json().await.unwrap();
    let url = &app.belvo_widget(body["widget_url"].as_str().unwrap()).await;
    assert_eq!(
        param(url, "institutions").as_deref(),
        Some("imss_mx_employment")
    );
    assert_eq!(param(url, "access_mode").as_deref(), Some("recurrent"));
    let sent = app.token_request_for(url).await;
    assert_eq!(sent["credentials_storage"], "store");

    let widened = app
        .post_session(
            "maria",
            &json!({"product": "mx_employment", "platform": "ios",
                    "institutions": ["banamex_mx_retail"]}),
        )
        .await;
    assert_eq!(widened.status(), 400);
    let error: Value = widened.json().await.unwrap();
    assert_eq!(error["error"]["code"], "institution_not_allowed");
}

async fn spawn_app_with_production_lists() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(crate::helpers::StoreKind::Redis, |s| {
        let mx = s
            .products
            .get_mut(&belvo_bff::domain::ids::ProductName::parse("mx_employment").unwrap())
            .unwrap();
        mx.sandbox_institutions = None;
    })
    .await
}

#[tokio::test]
async fn ofda_needs_a_valid_cpf_or_cnpj_in_the_consent() {
    let app = spawn_app().await;
    let cases = [
        json!({"product": "br_ofda", "platform": "ios"}),
        json!({"product": "br_ofda", "platform": "ios", "consent": {"identification_info":
            [{"type": "CPF", "number": "76109277674", "name": "Ralph Bragg"}]}}),
        json!({"product": "br_ofda", "platform": "ios", "consent": {"identification_info":
            [{"type": "RG", "number": "123", "name": "Ralph"}]}}),
        json!({"product": "br_ofda", "platform": "ios", "consent": {"identification_info":
            [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}],
            "permissions": ["EVERYTHING"]}}),
        json!({"product": "mx_employment", "platform": "ios", "consent": {"identification_info": []}}),
    ];
    for body in cases {
        let response = app.post_session("ralph", &body).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    let narrowed = app
        .post_session(
            "ralph",
            &json!({"product": "br_ofda", "platform": "ios", "consent": {
                "identification_info": [
                    {"type": "CPF", "number": "761.092.776-73", "name": "Ralph Bragg"},
                    {"type": "CNPJ", "number": "11.222.333/0001-81", "name": "Belvo OF test"}],
                "permissions": ["REGISTER", "ACCOUNTS"]}}),
        )
        .await;
    assert_eq!(narrowed.status(), 201);
    let body: Value = narrowed.json().await.unwrap();
    let sent = app
        .token_request_for(body["widget_url"].as_str().unwrap())
        .await;
    assert_eq!(
        sent["widget"]["consent"]["permissions"],
        json!(["REGISTER", "ACCOUNTS"])
    );
    assert_eq!(
        sent["widget"]["consent"]["identification_info"][1]["number"],
        "11222333000181"
    );
}

#[tokio::test]
async fn a_new_session_is_pending_and_visible_to_its_owner_only() {
    let app = spawn_app().await;
    let session = app.open("maria", "co_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    let status = app.status("maria", id).await;
    assert_eq!(status["status"], "pending");
    assert_eq!(status["product"], "co_employment");
    assert_eq!(status["link_id"], Value::Null);
    assert_eq!(status["warnings"], json!([]));

    assert_eq!(app.get_status("pedro", id).await.status(), 404);
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(app.get_status("maria", &unknown).await.status(), 404);
    assert_eq!(app.get_status("maria", "not-an-id").await.status(), 404);
}

#[tokio::test]
async fn one_user_may_open_only_so_many_sessions_a_minute() {
    let app = crate::helpers::spawn_app_with(crate::helpers::StoreKind::Memory, |s| {
        s.limits.token_requests_per_minute = 3;
    })
    .await;
    let body = serde_json::json!({"product": "mx_employment", "platform": "ios"});
    for _ in 0..3 {
        assert_eq!(app.post_session("maria", &body).await.status(), 201);
    }
    let fourth = app.post_session("maria", &body).await;
    assert_eq!(fourth.status(), 429);
    let retry: u64 = fourth.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let error: serde_json::Value = fourth.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_many_requests");
    assert_eq!(error["error"]["retry_after"], retry);
    assert_eq!(
        app.post_session("ana", &body).await.status(),
        201,
        "the budget is per user"
    );
}
