//! Brazil open-finance consents through the API (SPEC §12, issue 15): every CONSENT code (both
//! spellings of the expired one) moves a `br_ofda` link's consent and health on the three
//! stores; renewal and the consent portal hand out My Belvo Portal URLs with a
//! `consent_management` token; the emulated portal's "Renovar" brings the link back to active.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{jwt_claims, param, spawn_app_with, StoreKind, TestApp};

const STORES: [StoreKind; 3] = [StoreKind::Memory, StoreKind::Redis, StoreKind::Cluster];
const CPF: &str = "76109277673";

fn identification() -> Value {
    json!({"identification_info": [{"type": "CPF", "number": CPF, "name": "Ralph Bragg"}]})
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    sub: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(app.token(sub))
        .header("Accept-Language", "pt");
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn link(app: &TestApp, id: &str) -> Value {
    let response = call(
        app,
        reqwest::Method::GET,
        "maria",
        &format!("/v1/links/{id}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the link reads as `done` says (a webhook is on its way).
async fn until(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = call(
            app,
            reqwest::Method::GET,
            "maria",
            &format!("/v1/links/{id}"),
            None,
        )
        .await;
        if response.status() == 200 {
            let link: Value = response.json().await.unwrap();
            if done(&link) {
                return link;
            }
            assert!(Instant::now() < deadline, "still {link}");
        } else {
            assert!(Instant::now() < deadline, "still {}", response.status());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A verified `br_ofda` link of maria's whose first webhooks have all arrived.
async fn ofda_link(app: &TestApp) -> String {
    let (session, id) = app.connect("maria", "br_ofda", "erebor_br_retail").await;
    app.status_until_resources("maria", &session).await;
    until(app, &id, |l| {
        l["resources"]["ACCOUNTS"]["status"] == "ready"
    })
    .await;
    id
}

fn consent_webhook(link: &str, code: &str, data: Value) -> Value {
    json!({
        "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
        "webhook_type": "CONSENT", "webhook_code": code, "process_type": "recurrent_update",
        "link_id": link, "external_id": null, "data": data,
    })
}

/// Sends a webhook as Belvo does and returns the link afterwards.
async fn after(app: &TestApp, id: &str, body: Value) -> Value {
    let response = app.webhook(&body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    link(app, id).await
}

fn data_webhook(link: &str) -> Value {
    json!({
        "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
        "webhook_type": "TRANSACTIONS", "webhook_code": "new_transactions_available",
        "process_type": "recurrent_update", "link_id": link, "data": {"count": 3},
    })
}

#[tokio::test]
async fn every_consent_code_moves_a_br_ofda_link_on_the_three_stores() {
    for store in STORES {
        let app = spawn_app_with(store, |_| {}).await;
        let id = ofda_link(&app).await;
        let fresh = link(&app, &id).await;
        assert_eq!(
            fresh["consent"],
            json!({"consent_id": null, "state": "active", "due_at": null, "changed_at": null,
                   "explanation": null}),
            "{store:?}"
        );

        let soon = after(
            &app,
            &id,
            consent_webhook(
                &id,
                "openfinance_consent_about_to_expire",
                json!({"consent_id": "9e763d19-15a4-410c-a106-18c0f60ca5eb",
                       "consent_due_date": "2030-12-26T10:45:58.000Z"}),
            ),
        )
        .await;
        assert_eq!(soon["consent"]["state"], "expiring", "{store:?}");
        assert_eq!(
            soon["consent"]["consent_id"],
            "9e763d19-15a4-410c-a106-18c0f60ca5eb"
        );
        assert_eq!(soon["consent"]["due_at"], "2030-12-26T10:45:58Z");
        assert!(soon["consent"]["changed_at"].is_string());
        assert_eq!(soon["health"], "consent_expiring");
        assert_eq!(soon["health_reason"]["code"], "consent_expiring");
        let explained = &soon["consent"]["explanation"];
        assert_eq!(explained["code"], "consent_expiring");
        assert!(
            explained["what"]
                .as_str()
                .unwrap()
                .contains("consentimento"),
            "pt: {explained}"
        );
        // Data before the due date does not end it.
        let still = after(&app, &id, data_webhook(&id)).await;
        assert_eq!(still["consent"]["state"], "expiring");

        let moved = after(
            &app,
            &id,
            consent_webhook(
                &id,
                "openfinance_consent_expiration_changed",
                json!({"consent_id": "9e763d19-15a4-410c-a106-18c0f60ca5eb",
                       "consent_due_date": "2031-06-01T00:00:00Z"}),
            ),
        )
        .await;
        assert_eq!(moved["consent"]["state"], "active");
        assert_eq!(moved["consent"]["due_at"], "2031-06-01T00:00:00Z");
        assert_eq!(moved["health"], "ok");

        // A due date that does not parse: kept in the timeline, `due_at` null, never a 400.
        let unreadable = after(
            &app,
            &id,
            consent_webhook(
                &id,
                "openfinance_consent_about_to_expire",
                json!({"consent_due_date": "26/12/2030"}),
            ),
        )
        .await;
        assert_eq!(unreadable["consent"]["state"], "expiring");
        assert_eq!(unreadable["consent"]["due_at"], Value::Null);

        for code in ["openfinance_consent_expired", "consent_expired"] {
            let expired = after(
                &app,
                &id,
                consent_webhook(
                    &id,
                    code,
                    json!({"consent_id": "9e763d19-15a4-410c-a106-18c0f60ca5eb", "action": "renew",
                           "institution": "erebor_br_retail",
                           "institution_display_name": "Erebor Brasil",
                           "institution_icon_logo": "https://example.com/erebor.svg"}),
                ),
            )
            .await;
            assert_eq!(expired["consent"]["state"], "expired", "{code} {store:?}");
            assert_eq!(expired["health"], "consent_expired");
            assert_eq!(expired["health_reason"]["code"], "consent_expired");

            // An unknown code is kept and changes nothing.
            let unknown = after(
                &app,
                &id,
                consent_webhook(&id, "openfinance_consent_revoked_somehow", json!({})),
            )
            .await;
            assert_eq!(unknown["consent"], expired["consent"], "{code}");

            // Data after the expiry: the consent was renewed.
            let back = after(&app, &id, data_webhook(&id)).await;
            assert_eq!(back["consent"]["state"], "active", "{code} {store:?}");
            assert_eq!(back["health"], "ok");
        }

        for code in [
            "openfinance_consent_with_unrecoverable_resources",
            "openfinance_consent_with_temporarily_unavailable_resources",
        ] {
            let unavailable = after(&app, &id, consent_webhook(&id, code, json!({}))).await;
            assert_eq!(
                unavailable["consent"]["state"], "unavailable",
                "{code} {store:?}"
            );
            assert_eq!(unavailable["health"], "unavailable");
            assert_eq!(unavailable["health_reason"]["code"], "consent_unavailable");
            let back = after(&app, &id, data_webhook(&id)).await;
            assert_eq!(back["consent"]["state"], "active", "{code}");
        }

        // The support console's link page shows the consent and its history.
        let staff = app.staff_token("sofia", belvo_bff::auth::Role::Support);
        let page = app
            .client
            .get(app.url(&format!("/support/links/{id}")))
            .bearer_auth(staff)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("id=\"consent-state\">active<"), "{page}");
        assert!(
            page.contains("openfinance_consent_revoked_somehow"),
            "{page}"
        );
        assert!(page.contains("consent_expired"), "{page}");

        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
        let metrics = metrics.text().await.unwrap();
        assert!(
            metrics.contains("bff_consent_webhooks_total{code=\"unknown\"}"),
            "unknown codes are counted"
        );
        assert!(metrics.contains("bff_consent_webhooks_total{code=\"consent_expired\"}"));
    }
}

#[tokio::test]
async fn a_consent_webhook_changes_nothing_on_a_link_that_is_not_open_finance() {
    let app = spawn_app_with(StoreKind::Redis, |_| {}).await;
    let id = app.api_link("maria").await;
    let after = after(
        &app,
        &id,
        consent_webhook(&id, "openfinance_consent_expired", json!({})),
    )
    .await;
    assert_eq!(after.get("consent"), None, "{after}");
    let renewal = call(
        &app,
        reqwest::Method::POST,
        "maria",
        &format!("/v1/links/{id}/consent-renewal"),
        Some(identification()),
    )
    .await;
    assert_eq!(renewal.status(), 409);
    let body: Value = renewal.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_open_finance");
}

async fn renewal(app: &TestApp, sub: &str, id: &str, body: Value) -> reqwest::Response {
    call(
        app,
        reqwest::Method::POST,
        sub,
        &format!("/v1/links/{id}/consent-renewal"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn an_expired_consent_is_renewed_in_the_portal_and_the_link_is_active_again() {
    let app = spawn_app_with(StoreKind::Redis, |_| {}).await;
    let id = ofda_link(&app).await;

    // Not expired: 409, pointing to the consent portal.
    let early = renewal(&app, "maria", &id, identification()).await;
    assert_eq!(early.status(), 409);
    let body: Value = early.json().await.unwrap();
    assert_eq!(body["error"]["code"], "consent_not_expired");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/consent-portal"));

    app.emulator_control(&id, "break", json!({"reason": "consent_expired"}))
        .await;
    let expired = until(&app, &id, |l| l["consent"]["state"] == "expired").await;
    assert_eq!(expired["health"], "consent_expired");
    let consent_id = expired["consent"]["consent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bad input: 400 before Belvo is asked; another user's link: 404.
    let stats_before = app.emulator_get("/_emulator/stats").await["token_requests"].clone();
    let bad =
        json!({"identification_info": [{"type": "CPF", "number": "76109277670", "name": "R"}]});
    let refused = renewal(&app, "maria", &id, bad).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(
        renewal(&app, "pedro", &id, identification()).await.status(),
        404
    );
    assert_eq!(
        app.emulator_get("/_emulator/stats").await["token_requests"],
        stats_before,
        "no token request for refused input"
    );

    let renewed = renewal(&app, "maria", &id, identification()).await;
    assert_eq!(renewed.status(), 201);
    let renewed: Value = renewed.json().await.unwrap();
    let url = renewed["url"].as_str().unwrap();
    assert!(
        url.starts_with(&app.url("/emulator/portal/?access_token=")),
        "{url}"
    );
    assert_eq!(param(url, "link_id").as_deref(), Some(id.as_str()));
    assert_eq!(
        param(url, "consent_id").as_deref(),
        Some(consent_id.as_str())
    );
    assert_eq!(
        param(url, "institution").as_deref(),
        Some("erebor_br_retail")
    );
    assert_eq!(param(url, "action").as_deref(), Some("renew"));
    assert!(param(url, "institution_display_name").is_some());
    assert!(renewed["expires_at"].is_string());

    // The token request Belvo received: its own shape, with the CPF.
    let token = param(url, "access_token").unwrap();
    let jti = jwt_claims(&token)["jti"].as_str().unwrap().to_owned();
    let sent = app
        .emulator_get(&format!("/_emulator/portal-tokens/{jti}"))
        .await;
    assert_eq!(sent["widget"]["openfinance_feature"], "consent_management");
    assert_eq!(
        sent["scopes"],
        "read_consents,write_consents,write_consent_callback"
    );
    assert_eq!(
        sent["widget"]["consent"]["identification_info"][0]["number"],
        CPF
    );
    assert_eq!(sent.get("fetch_resources"), None);
    assert_eq!(sent["widget"].get("callback_urls"), None);

    // The portal shows the consent; "Renovar" renews it and sends the user back to the app.
    let page = app.client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&consent_id), "{page}");
    assert!(page.contains("Expirado"));
    let done = app
        .client
        .post(app.url("/emulator/portal/renew"))
        .form(&[("access_token", token.as_str()), ("link_id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Volte ao app"));
    let active = until(&app, &id, |l| l["consent"]["state"] == "active").await;
    assert_eq!(active["health"], "ok");
    // The token worked once.
    let again = app.client.get(url).send().await.unwrap();
    assert_eq!(again.status(), 401);
    // The CPF went to Belvo only: nothing stored holds it (what is stored is read: the consent
    // id is there).
    let stored = assert_redis_never_holds(&app, CPF).await;
    assert!(stored.contains(&consent_id));
}

/// No key of the app's (single) Redis holds `value`; answers everything stored, as text.
async fn assert_redis_never_holds(app: &TestApp, value: &str) -> String {
    let mut conn = app.redis_conn().await;
    let (_, prefix) = app.redis.as_ref().unwrap();
    crate::stored::assert_never_holds(&mut conn, prefix, value).await
}

#[tokio::test]
async fn the_consent_portal_gives_this_apps_view_and_the_public_one() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let public = call(
        &app,
        reqwest::Method::GET,
        "maria",
        "/v1/consent-portal",
        None,
    )
    .await;
    assert_eq!(public.status(), 200);
    let public: Value = public.json().await.unwrap();
    assert_eq!(
        public["url"],
        app.url("/emulator/portal/?mode=landing").as_str()
    );

    let opened = call(
        &app,
        reqwest::Method::POST,
        "maria",
        "/v1/consent-portal",
        Some(identification()),
    )
    .await;
    assert_eq!(opened.status(), 201);
    let opened: Value = opened.json().await.unwrap();
    let url = opened["url"].as_str().unwrap();
    assert!(param(url, "access_token").is_some());
    assert_eq!(param(url, "action"), None);
    let page = app.client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Meus compartilhamentos"));

    let cnpj_only = json!({"identification_info": [{"type": "RG", "number": CPF, "name": "R"}]});
    let refused = call(
        &app,
        reqwest::Method::POST,
        "maria",
        "/v1/consent-portal",
        Some(cnpj_only),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let unauthenticated = app
        .client
        .get(app.url("/v1/consent-portal"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn belvo_down_during_the_token_request_is_a_502_within_the_timeout() {
    // A port nothing listens on: Belvo is down.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.belvo.base_url = Some(dead_url.parse().unwrap());
        s.belvo.timeout = Duration::from_secs(2);
    })
    .await;
    let started = Instant::now();
    let response = call(
        &app,
        reqwest::Method::POST,
        "maria",
        "/v1/consent-portal",
        Some(identification()),
    )
    .await;
    assert_eq!(response.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(4));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "belvo_unavailable");
    assert!(!body.to_string().contains(CPF));
    assert_redis_never_holds(&app, CPF).await;
}
