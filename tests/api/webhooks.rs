//! Belvo webhooks: readiness per resource, deduplication, any order, auth, limits, outages.

use serde_json::{json, Value};

use crate::helpers::{param, spawn_app_on, spawn_app_with, StoreKind, TestApp, LINK_ID};
use crate::own_redis::OwnRedis;

fn historical_update(
    link: &str,
    webhook_id: &str,
    resource: &str,
    external_id: &str,
    total: u64,
) -> Value {
    let key = match resource {
        "EMPLOYMENT_RECORDS" => "total_employment_record_profiles".to_owned(),
        other => format!("total_{}", other.to_lowercase()),
    };
    json!({
        "webhook_id": webhook_id,
        "webhook_type": resource,
        "process_type": "historical_update",
        "webhook_code": "historical_update",
        "link_id": link,
        "request_id": "4363b08b-51eb-4350-9c74-5df5ac92a7f6",
        "external_id": external_id,
        "data": { key: total },
    })
}

/// Total the emulator serves for a link's resource (what the webhook must report).
async fn served_count(app: &TestApp, path: &str, link: &str) -> u64 {
    app.emulator_get(&format!("{path}?link={link}")).await["count"]
        .as_u64()
        .unwrap()
}

async fn readiness_reaches_ready_with_the_right_totals_for_each_product(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let cases = [
        (
            "mx_employment",
            "planet_mx_employment",
            vec![("EMPLOYMENT_RECORDS", "/api/employment-records/")],
        ),
        (
            "br_employment",
            "inss_br_employment",
            vec![
                ("EMPLOYMENTS", "/api/br/employments/"),
                ("OWNERS", "/api/owners/"),
            ],
        ),
        (
            "co_employment",
            "pila_co_employment",
            vec![
                ("EMPLOYMENTS", "/api/co/employments/"),
                ("OWNERS", "/api/owners/"),
            ],
        ),
        (
            "br_ofda",
            "ofbradesco_br_retail",
            vec![("OWNERS", "/api/owners/")],
        ),
    ];
    for (product, institution, checks) in cases {
        let (id, link) = app.connect("maria", product, institution).await;
        let status = app.status_until_resources("maria", &id).await;
        assert_eq!(status["status"], "succeeded", "{product}");
        let resources = status["resources"].as_object().unwrap();
        assert!(!resources.is_empty());
        for (name, r) in resources {
            assert_eq!(r["status"], "ready", "{product} {name}: {status}");
        }
        for (resource, path) in checks {
            let expected = served_count(&app, path, &link).await;
            assert_eq!(
                resources[resource]["total"], expected,
                "{product} {resource}"
            );
        }
        assert_eq!(status["link_verified"], true, "{product}");
    }
}

async fn the_same_webhook_delivered_five_times_counts_once(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let (id, link) = app
        .connect("maria", "br_employment", "inss_br_employment")
        .await;
    let external_id = {
        let s = app.status_until_resources("maria", &id).await;
        assert_eq!(s["status"], "succeeded");
        link_external_id(&app, &link).await
    };
    let body = historical_update(&link, "replayed-webhook-1", "EMPLOYMENTS", &external_id, 7);
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let response = app.webhook(&body).await;
        assert_eq!(response.status(), 200);
        outcomes.push(response.json::<Value>().await.unwrap()["status"].clone());
    }
    assert_eq!(outcomes[0], "recorded");
    assert!(outcomes[1..].iter().all(|o| o == "duplicate"));
    let status = app.status("maria", &id).await;
    assert_eq!(status["resources"]["EMPLOYMENTS"]["total"], 7);
    let mut conn = app.redis_conn().await;
    let entries: Vec<String> = redis::cmd("LRANGE")
        .arg(app.link_timeline_key(&link))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.contains("replayed-webhook-1"))
            .count(),
        1
    );
}

/// The external_id Belvo has for a link (the emulator's record).
async fn link_external_id(app: &TestApp, link: &str) -> String {
    let body = app.emulator_get(&format!("/api/links/{link}/")).await;
    body["external_id"].as_str().unwrap().to_owned()
}

async fn a_webhook_before_the_success_callback_ends_in_the_same_state(store: StoreKind) {
    let app = spawn_app_with(store, |s| {
        // No emulator webhooks: this test sends them itself.
        s.emulator.webhook_url = Some("http://127.0.0.1:9/unused".parse().unwrap());
        s.emulator.webhook_attempts = 1;
    })
    .await;
    let mut finals = Vec::new();
    for webhook_first in [true, false] {
        let session = app.open("maria", "mx_employment", "ios").await;
        let id = session["session_id"].as_str().unwrap().to_owned();
        let widget_url = &app
            .belvo_widget(session["widget_url"].as_str().unwrap())
            .await;
        let external_id = param(widget_url, "external_id").unwrap();
        let callback = app
            .widget_outcome(widget_url, "success", "planet_mx_employment")
            .await;
        let link = param(&callback, "link").unwrap();
        let webhook = historical_update(
            &link,
            &format!("w-{webhook_first}"),
            "EMPLOYMENT_RECORDS",
            &external_id,
            1,
        );
        if webhook_first {
            assert_eq!(app.webhook(&webhook).await.status(), 200);
            assert_eq!(
                app.client.get(&callback).send().await.unwrap().status(),
                302
            );
        } else {
            assert_eq!(
                app.client.get(&callback).send().await.unwrap().status(),
                302
            );
            assert_eq!(app.webhook(&webhook).await.status(), 200);
        }
        let status = app.status_until_resources("maria", &id).await;
        finals.push((status["status"].clone(), status["resources"].clone()));
    }
    assert_eq!(finals[0], finals[1]);
    assert_eq!(finals[0].1["EMPLOYMENT_RECORDS"]["status"], "ready");
    assert_eq!(finals[0].1["EMPLOYMENT_RECORDS"]["total"], 1);
}

async fn webhooks_without_the_right_bearer_are_refused_and_store_nothing(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let body = historical_update(LINK_ID, "w-auth", "OWNERS", "u_x", 1);
    let cases = [None, Some("wrong-token"), Some("")];
    for token in cases {
        let mut request = app.client.post(app.url("/webhooks/belvo")).json(&body);
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{token:?}");
    }
    let basic = app
        .client
        .post(app.url("/webhooks/belvo"))
        .header("Authorization", "Basic ZGV2LXdlYmhvb2stdG9rZW46")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let mut conn = app.redis_conn().await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(app.link_key(LINK_ID))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}

/// `Authorization: Basic user:password` as `Basic <base64>`.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

async fn send_with_authorization(app: &TestApp, authorization: &str, id: &str) -> u16 {
    let body = historical_update(LINK_ID, id, "OWNERS", "u_x", 1);
    app.client
        .post(app.url("/webhooks/belvo"))
        .header("Authorization", authorization)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn basic_auth_takes_the_webhook_token_as_password_with_any_user_name_when_none_is_set() {
    let app = spawn_app_on(StoreKind::Memory).await;
    let right = basic("anyone", "dev-webhook-token");
    assert_eq!(send_with_authorization(&app, &right, "b-1").await, 200);
    let lower = right.replacen("Basic", "basic", 1);
    assert_eq!(send_with_authorization(&app, &lower, "b-2").await, 200);
    let refused = [
        basic("anyone", "wrong-token"),
        basic("anyone", ""),
        basic("dev-webhook-token", ""),
        "Basic".to_owned(),
        "Basic !!!not-base64!!!".to_owned(),
        // Valid base64 without a colon, and bytes that are not UTF-8.
        "Basic ZGV2LXdlYmhvb2stdG9rZW4=".to_owned(),
        "Basic //79".to_owned(),
    ];
    for authorization in refused {
        let status = send_with_authorization(&app, &authorization, "b-3").await;
        assert_eq!(status, 401, "{authorization}");
    }
}

#[tokio::test]
async fn basic_auth_checks_the_user_name_when_one_is_configured() {
    let app = spawn_app_with(StoreKind::Memory, |s| {
        s.webhooks.basic_username = Some("belvo".into());
    })
    .await;
    let right = basic("belvo", "dev-webhook-token");
    assert_eq!(send_with_authorization(&app, &right, "b-1").await, 200);
    for authorization in [
        basic("other", "dev-webhook-token"),
        basic("belvo2", "dev-webhook-token"),
        basic("", "dev-webhook-token"),
        basic("belvo", "wrong-token"),
    ] {
        let status = send_with_authorization(&app, &authorization, "b-2").await;
        assert_eq!(status, 401, "{authorization}");
    }
    // The bearer token still works.
    let bearer = "Bearer dev-webhook-token";
    assert_eq!(send_with_authorization(&app, bearer, "b-3").await, 200);
}

async fn malformed_and_oversized_webhooks_get_4xx(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let mut huge = historical_update(LINK_ID, "w-big", "OWNERS", "u_x", 1);
    huge["data"]["padding"] = json!("x".repeat(300 * 1024));
    let response = app.webhook(&huge).await;
    assert_eq!(response.status(), 413);
    let bad = [
        json!({"webhook_id": "w", "webhook_type": "OWNERS", "webhook_code": "historical_update", "link_id": "not-a-link"}),
        json!({"webhook_id": "w w", "webhook_type": "OWNERS", "webhook_code": "historical_update", "link_id": LINK_ID}),
        json!({"webhook_type": "OWNERS", "webhook_code": "historical_update", "link_id": LINK_ID}),
        json!({"webhook_id": "w", "webhook_type": "OWNERS", "webhook_code": "historical_update", "link_id": LINK_ID, "external_id": "no spaces allowed"}),
        json!([1, 2, 3]),
    ];
    for body in bad {
        let response = app.webhook(&body).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    // An unknown resource type is stored, not rejected.
    let unknown = historical_update(LINK_ID, "w-unknown", "RECURRING_EXPENSES", "u_x", 3);
    assert_eq!(app.webhook(&unknown).await.status(), 200);
}

async fn a_webhook_for_another_users_link_is_never_merged(store: StoreKind) {
    let app = spawn_app_with(store, |s| {
        s.emulator.webhook_url = Some("http://127.0.0.1:9/unused".parse().unwrap());
        s.emulator.webhook_attempts = 1;
    })
    .await;
    let (id, link) = app
        .connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    let forged = historical_update(
        &link,
        "w-forged",
        "EMPLOYMENT_RECORDS",
        "u_someone_else",
        99,
    );
    let response = app.webhook(&forged).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "external_id_mismatch"
    );
    let status = app.status("maria", &id).await;
    assert_eq!(
        status["resources"]["EMPLOYMENT_RECORDS"]["status"],
        "pending"
    );
}

#[tokio::test]
async fn source_addresses_are_checked_behind_a_trusted_proxy() {
    let belvo_ip = "3.130.254.46";
    let direct = spawn_app_with(StoreKind::Memory, |s| {
        s.webhooks.allowed_ips = vec![belvo_ip.parse().unwrap()];
    })
    .await;
    let body = historical_update(LINK_ID, "w-ip", "OWNERS", "u_x", 1);
    let spoofed = direct
        .client
        .post(direct.url("/webhooks/belvo"))
        .bearer_auth("dev-webhook-token")
        .header("X-Forwarded-For", belvo_ip)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        spoofed.status(),
        403,
        "X-Forwarded-For from an untrusted peer is ignored"
    );

    let proxied = spawn_app_with(StoreKind::Memory, |s| {
        s.webhooks.allowed_ips = vec![belvo_ip.parse().unwrap()];
        s.webhooks.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let send = |xff: &'static str| {
        proxied
            .client
            .post(proxied.url("/webhooks/belvo"))
            .bearer_auth("dev-webhook-token")
            .header("X-Forwarded-For", xff)
            .json(&body)
            .send()
    };
    assert_eq!(send("3.130.254.46").await.unwrap().status(), 200);
    assert_eq!(send("10.1.2.3").await.unwrap().status(), 403);
    assert_eq!(send("3.130.254.46, 10.1.2.3").await.unwrap().status(), 403);
    // A hop with a port is still that hop; one that is no address at all is not trusted.
    assert_eq!(
        send("3.130.254.46, 6.6.6.6:5555").await.unwrap().status(),
        403
    );
    assert_eq!(
        send("3.130.254.46, [2001:db8::6]:443")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(send("3.130.254.46, unknown").await.unwrap().status(), 403);
    assert_eq!(send("3.130.254.46:443").await.unwrap().status(), 200);
    // The client's own header line comes first; the proxy appends the real address after it.
    let two_lines = proxied
        .client
        .post(proxied.url("/webhooks/belvo"))
        .bearer_auth("dev-webhook-token")
        .header("X-Forwarded-For", belvo_ip)
        .header("X-Forwarded-For", "6.6.6.6")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(two_lines.status(), 403, "every X-Forwarded-For line counts");
}

#[tokio::test]
async fn redis_down_gives_503_and_a_retried_webhook_completes_the_state() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url;
        s.store.timeout = std::time::Duration::from_millis(500);
        s.emulator.webhook_url = Some("http://127.0.0.1:9/unused".parse().unwrap());
        s.emulator.webhook_attempts = 1;
    })
    .await;
    let (id, link) = app
        .connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    let external_id = link_external_id(&app, &link).await;
    let body = historical_update(&link, "w-outage", "EMPLOYMENT_RECORDS", &external_id, 1);

    redis.stop();
    let response = app.webhook(&body).await;
    assert_eq!(response.status(), 503);

    redis.spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let response = app.webhook(&body).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(std::time::Instant::now() < deadline, "did not recover");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let status = app.status("maria", &id).await;
    assert_eq!(status["resources"]["EMPLOYMENT_RECORDS"]["status"], "ready");
}

async fn forged_success_callbacks_end_up_unverified(store: StoreKind) {
    let app = spawn_app_on(store).await;
    // A link that Belvo never made.
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    app.callback(
        &id,
        "success",
        &format!("link={LINK_ID}&institution=planet_mx_employment"),
    )
    .await;
    // Another user's real link.
    let (_, pedro_link) = app
        .connect("pedro", "mx_employment", "planet_mx_employment")
        .await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let stolen = session["session_id"].as_str().unwrap().to_owned();
    app.callback(
        &stolen,
        "success",
        &format!("link={pedro_link}&institution=planet_mx_employment"),
    )
    .await;

    let mut verified = Value::Null;
    for _ in 0..50 {
        verified = app.status("maria", &id).await["link_verified"].clone();
        if !verified.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(verified, false, "a link Belvo never made ends unverified");
    // Another user's link is refused at once: the session fails and names no link.
    let status = app.status("maria", &stolen).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["last_error"]["code"], "link_owned_elsewhere");
    assert_eq!(status["link_id"], Value::Null);
}

crate::helpers::on_redis_and_cluster!(
    readiness_reaches_ready_with_the_right_totals_for_each_product,
    the_same_webhook_delivered_five_times_counts_once,
    a_webhook_before_the_success_callback_ends_in_the_same_state,
    webhooks_without_the_right_bearer_are_refused_and_store_nothing,
    malformed_and_oversized_webhooks_get_4xx,
    a_webhook_for_another_users_link_is_never_merged,
    forged_success_callbacks_end_up_unverified,
);
