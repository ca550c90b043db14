//! Redis stops mid-run: the API answers 503 (not 500, not a hang), then recovers by itself.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{spawn_app_with, StoreKind};
use crate::own_redis::OwnRedis;

#[tokio::test]
async fn redis_down_gives_503_and_the_service_recovers_when_it_returns() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url;
        s.store.timeout = Duration::from_millis(500);
    })
    .await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();

    redis.stop();

    let started = Instant::now();
    let status = app.get_status("maria", &id).await;
    assert_503(status).await;
    let callback = app
        .callback(
            &id,
            "success",
            "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x",
        )
        .await;
    assert_503(callback).await;
    let create = app
        .post_session(
            "maria",
            &serde_json::json!({"product": "mx_employment", "platform": "ios"}),
        )
        .await;
    assert_503(create).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answers must not hang: {:?}",
        started.elapsed()
    );
    let metrics = crate::metrics::scrape(&app).await;
    assert!(crate::metrics::value(&metrics, "bff_redis_errors_total", &[]) >= 1.0);

    redis.spawn();

    // Recovers without a restart of the BFF.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let callback = app
        .callback(
            &id,
            "success",
            "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x",
        )
        .await;
    assert_eq!(callback.status(), 302);
    assert_eq!(app.status("maria", &id).await["status"], "succeeded");
}

async fn assert_503(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable");
}

/// Redis is killed and restarted under load: every request gets 2xx/302 or 503 (never a 500,
/// never a hang), the service recovers by itself, and every acknowledged event is in Redis.
#[tokio::test]
async fn redis_killed_under_load_loses_nothing_that_was_acknowledged() {
    use futures_util::stream::{self, StreamExt};

    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url;
        s.store.timeout = Duration::from_millis(500);
        s.emulator.webhook_url = Some("http://127.0.0.1:9/unused".parse().unwrap());
        s.emulator.webhook_attempts = 1;
        // One user opens far more sessions than a person would.
        s.limits.token_requests_per_minute = 10_000;
    })
    .await;
    let mut sessions = Vec::new();
    for _ in 0..120 {
        let session = app.open("maria", "mx_employment", "ios").await;
        sessions.push(session["session_id"].as_str().unwrap().to_owned());
    }

    let load = stream::iter(sessions.iter().enumerate())
        .map(|(i, id)| {
            let app = &app;
            async move {
                // Spread the requests over the outage.
                tokio::time::sleep(Duration::from_millis(i as u64 * 15)).await;
                let link = uuid::Uuid::new_v4();
                let started = Instant::now();
                let callback = app
                    .callback(id, "success", &format!("link={link}&institution=planet_mx_employment"))
                    .await
                    .status()
                    .as_u16();
                let webhook = app
                    .webhook(&serde_json::json!({"webhook_id": format!("w-{i}"), "webhook_type": "OWNERS",
                        "webhook_code": "historical_update", "link_id": link, "data": {"total_owners": 1}}))
                    .await
                    .status()
                    .as_u16();
                // Belvo says the password changed (a LINK webhook: the link's health).
                let health = app
                    .webhook(&serde_json::json!({"webhook_id": format!("l-{i}"), "webhook_type": "LINK",
                        "webhook_code": "invalid_credentials", "process_type": "recurrent_update",
                        "link_id": link, "data": {"error_code": "login_error", "error_message": "x", "status": 400}}))
                    .await
                    .status()
                    .as_u16();
                assert!(started.elapsed() < Duration::from_secs(5), "a request hung");
                (id.clone(), link, callback, webhook, health)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let outage = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        redis.kill();
        tokio::time::sleep(Duration::from_millis(700)).await;
        redis.spawn();
    };
    let (results, ()) = tokio::join!(load, outage);

    for (_, _, callback, webhook, health) in &results {
        assert!(
            matches!(callback, 302 | 503),
            "callback answered {callback}"
        );
        assert!(matches!(webhook, 200 | 503), "webhook answered {webhook}");
        assert!(
            matches!(health, 200 | 503),
            "LINK webhook answered {health}"
        );
    }
    let refused = results.iter().filter(|r| r.2 == 503).count();
    assert!(
        refused > 0,
        "the outage was not hit; the test proves nothing"
    );
    let acknowledged: Vec<_> = results.iter().filter(|r| r.2 == 302).collect();
    assert!(!acknowledged.is_empty());
    for (id, _, _, _, _) in &acknowledged {
        assert_eq!(
            app.status("maria", id).await["status"],
            "succeeded",
            "{id} was acknowledged"
        );
    }
    let mut conn = app.redis_conn().await;
    for (_, link, _, _, health) in &results {
        if *health == 200 {
            let stored: Option<String> = redis::cmd("HGET")
                .arg(app.link_key(&link.to_string()))
                .arg("cred_code")
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(
                stored.as_deref(),
                Some("invalid_credentials"),
                "LINK webhook for {link} was acknowledged but its health is missing"
            );
        }
    }
    for (_, link, _, webhook, _) in &results {
        if *webhook == 200 {
            let stored: Option<String> = redis::cmd("HGET")
                .arg(app.link_key(&link.to_string()))
                .arg("res:OWNERS")
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(
                stored.is_some(),
                "webhook for {link} was acknowledged but is missing"
            );
        }
    }
    eprintln!(
        "under load: {} callbacks acknowledged, {refused} refused with 503; {} webhooks acknowledged",
        acknowledged.len(),
        results.iter().filter(|r| r.3 == 200).count()
    );
}

/// With `store.ack_replicas`, terminal callbacks and webhooks are answered only once a replica
/// has them; without the replica they get 503 (Belvo retries), never a false success.
#[tokio::test]
async fn writes_wait_for_replica_acknowledgement_when_configured() {
    let primary = OwnRedis::start();
    let mut replica =
        OwnRedis::start_with(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let url = primary.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url;
        s.store.ack_replicas = 1;
        // Long enough for a busy machine's replica to acknowledge: this test is about whether
        // writes wait, not about how long (a 300 ms timeout once gave a 503 under load).
        s.store.ack_timeout = Duration::from_secs(3);
        s.emulator.webhook_url = Some("http://127.0.0.1:9/unused".parse().unwrap());
        s.emulator.webhook_attempts = 1;
    })
    .await;
    // The replica needs a moment to sync.
    let mut primary_conn = redis::Client::open(primary.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut primary_conn)
            .await
            .unwrap();
        if info.contains("connected_slaves:1") && info.contains("state=online") {
            break;
        }
        assert!(Instant::now() < deadline, "replica did not sync: {info}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let success = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x";
    let first = app.open("maria", "mx_employment", "ios").await;
    let first = first["session_id"].as_str().unwrap();
    assert_eq!(app.callback(first, "success", success).await.status(), 302);

    replica.kill();
    let second = app.open("maria", "mx_employment", "ios").await;
    let second = second["session_id"].as_str().unwrap();
    let started = Instant::now();
    let refused = app.callback(second, "success", success).await;
    assert_eq!(refused.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused once the acknowledgement timeout passed, not held"
    );
    // Warnings are not terminal: they are not held back.
    let warning = app
        .callback(second, "warning", "warning=institution_disabled")
        .await;
    assert_eq!(warning.status(), 302);
    let webhook = app
        .webhook(
            &serde_json::json!({"webhook_id": "w-acks", "webhook_type": "OWNERS",
            "webhook_code": "historical_update", "link_id": "cb65f82c-dc93-4d3e-8270-9a27528397f5",
            "data": {"total_owners": 1}}),
        )
        .await;
    assert_eq!(webhook.status(), 503);
}

#[tokio::test]
async fn a_server_started_before_its_redis_answers_503_then_serves() {
    let mut redis = OwnRedis::not_started();
    let url = redis.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url;
        s.store.timeout = Duration::from_millis(500);
    })
    .await;
    let get = |path: &str| app.client.get(app.url(path)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200, "alive");
    assert_eq!(get("/readyz").await.unwrap().status(), 503, "not ready");
    let refused = app
        .post_session(
            "maria",
            &serde_json::json!({"product": "mx_employment", "platform": "ios"}),
        )
        .await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable");

    redis.spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get("/readyz").await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    // Change notifications work too: a long-poll is woken by the callback.
    let poll = app
        .client
        .get(app.url(&format!("/v1/widget-sessions/{id}?wait=20")))
        .bearer_auth(app.token("maria"))
        .send();
    let success = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";
    let (polled, callback) = tokio::join!(poll, async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.callback(&id, "success", success).await
    });
    assert_eq!(callback.status(), 302);
    let polled: Value = polled.unwrap().json().await.unwrap();
    assert_eq!(polled["status"], "succeeded");
}
