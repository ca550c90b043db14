//! The background scheduler in one process (SPEC §11), on Redis and a Redis Cluster: a due link
//! check reads Belvo's record and changes the link's health; a verification a replica could not
//! finish is finished by the scheduler of any replica.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{param, spawn_app_with, spawn_settings, stub_server, StoreKind, TestApp};

/// Makes the due entry `member` due now (it must be scheduled already).
async fn due_now(app: &TestApp, member: &str) {
    let (_, prefix) = app.redis.as_ref().unwrap();
    let mut conn = app.redis_conn().await;
    let changed: i64 = redis::cmd("ZADD")
        .arg(format!("{prefix}:{{due}}:entries"))
        .arg("XX")
        .arg("CH")
        .arg(0)
        .arg(member)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(changed, 1, "{member} was scheduled");
}

async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_due_check_reads_belvos_record_in_the_background(kind: StoreKind) {
    // LINK webhooks go elsewhere: only the check can tell.
    let sink = stub_server(|_| async { actix_web::HttpResponse::Ok().finish() });
    let app = spawn_app_with(kind, |s| {
        s.emulator.webhook_url = Some(sink.parse().unwrap());
    })
    .await;
    let id = app.api_link("maria").await;
    app.emulator_control(&id, "break", json!({"reason": "token_required"}))
        .await;

    due_now(&app, &format!("c:{id}")).await;
    until("the check saw token_required", || async {
        let link: Value = app
            .client
            .get(app.url(&format!("/v1/links/{id}")))
            .bearer_auth(app.token("maria"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        link["health"] == "needs_reconnect" && link["health_reason"]["code"] == "token_required"
    })
    .await;
}

async fn a_verification_one_replica_could_not_finish_is_finished_by_the_scheduler(kind: StoreKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    // Another replica on the same store, whose Belvo fails link reads until told otherwise;
    // then it forwards to the same emulator.
    let healthy = Arc::new(AtomicBool::new(false));
    let failed_reads = Arc::new(AtomicU64::new(0));
    let emulator = app.url("/emulator");
    let belvo = stub_server({
        let (healthy, failed_reads) = (healthy.clone(), failed_reads.clone());
        move |req: actix_web::HttpRequest| {
            let (healthy, failed_reads) = (healthy.clone(), failed_reads.clone());
            let target = format!("{emulator}{}", req.path());
            let auth = req.headers().get("authorization").cloned();
            async move {
                if !healthy.load(Ordering::SeqCst) {
                    failed_reads.fetch_add(1, Ordering::SeqCst);
                    return actix_web::HttpResponse::ServiceUnavailable().finish();
                }
                let mut forward = reqwest::Client::new().get(target);
                if let Some(auth) = auth {
                    forward = forward.header("authorization", auth.to_str().unwrap());
                }
                let answer = forward.send().await.unwrap();
                let status = answer.status().as_u16();
                actix_web::HttpResponse::build(
                    actix_web::http::StatusCode::from_u16(status).unwrap(),
                )
                .content_type("application/json")
                .body(answer.bytes().await.unwrap())
            }
        }
    });
    let mut settings = app.settings.clone();
    settings.belvo.base_url = Some(belvo.parse().unwrap());
    let other = spawn_settings(settings).await;

    let session = app.open("maria", "mx_employment", "ios").await;
    let session_id = session["session_id"].as_str().unwrap().to_owned();
    let callback = app
        .widget_outcome(
            session["widget_url"].as_str().unwrap(),
            "success",
            "planet_mx_employment",
        )
        .await;
    let link = param(&callback, "link").unwrap();
    // The widget's redirect lands on the other replica, which cannot verify the link now.
    let callback = callback.replacen(&app.address, &other.address, 1);
    assert_eq!(
        other.client.get(&callback).send().await.unwrap().status(),
        302
    );
    until("the other replica gave up", || async {
        failed_reads.load(Ordering::SeqCst) >= 4
    })
    .await;
    let status = app.status("maria", &session_id).await;
    assert_eq!(status["link_verified"], Value::Null, "not verified yet");

    // Belvo answers again; the verification is due (as once its lease ends): any replica's
    // scheduler finishes it.
    healthy.store(true, Ordering::SeqCst);
    due_now(&app, &format!("v:{session_id}:{link}")).await;
    until("the link was verified", || async {
        app.status("maria", &session_id).await["link_verified"] == true
    })
    .await;
    let mine: Value = app
        .client
        .get(app.url("/v1/links"))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["links"][0]["link_id"], link.as_str());
}

/// A Belvo in front of `upstream` (an emulator) that forwards every request as it came, except
/// link record reads while `failing` is set (answered 503).
fn flaky_belvo(upstream: String, failing: Arc<AtomicBool>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = actix_web::HttpServer::new(move || {
        let (upstream, failing) = (upstream.clone(), failing.clone());
        actix_web::App::new().default_service(actix_web::web::to(
            move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                let (upstream, failing) = (upstream.clone(), failing.clone());
                async move {
                    let record_read =
                        req.method() == "GET" && req.path().starts_with("/api/links/");
                    if record_read && failing.load(Ordering::SeqCst) {
                        return actix_web::HttpResponse::ServiceUnavailable().finish();
                    }
                    let mut forward = reqwest::Client::new()
                        .request(
                            reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap(),
                            format!("{upstream}{}", req.uri()),
                        )
                        .body(body.to_vec());
                    for name in ["authorization", "content-type"] {
                        if let Some(value) = req.headers().get(name) {
                            forward = forward.header(name, value.to_str().unwrap());
                        }
                    }
                    let answer = forward.send().await.unwrap();
                    let status =
                        actix_web::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
                    actix_web::HttpResponse::build(status)
                        .content_type("application/json")
                        .body(answer.bytes().await.unwrap())
                }
            },
        ))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

async fn a_check_belvo_did_not_answer_is_due_again_soon(kind: StoreKind) {
    // The emulator lives in an app of its own (another key prefix: its scheduler never sees
    // this test's links).
    let belvo_host = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let failing = Arc::new(AtomicBool::new(false));
    let belvo = flaky_belvo(belvo_host.url("/emulator"), failing.clone());
    let app = spawn_app_with(kind, |s| s.belvo.base_url = Some(belvo.parse().unwrap())).await;
    let id = app.api_link("maria").await;

    failing.store(true, Ordering::SeqCst);
    let member = format!("c:{id}");
    due_now(&app, &member).await;
    until("the failed check was claimed", || async {
        due_score(&app, &member).await > 0.0
    })
    .await;
    // Claiming pushed it a whole period on; the failure brings it back within minutes.
    let soon = now_ms() + 600_000.0;
    until("the failed check is due again soon", || async {
        due_score(&app, &member).await < soon
    })
    .await;
}

/// The due time of `member` (ms), 0 when absent.
async fn due_score(app: &TestApp, member: &str) -> f64 {
    let (_, prefix) = app.redis.as_ref().unwrap();
    let mut conn = app.redis_conn().await;
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(format!("{prefix}:{{due}}:entries"))
        .arg(member)
        .query_async(&mut conn)
        .await
        .unwrap();
    score.unwrap_or(0.0)
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
}

crate::helpers::on_redis_and_cluster!(
    a_due_check_reads_belvos_record_in_the_background,
    a_verification_one_replica_could_not_finish_is_finished_by_the_scheduler,
    a_check_belvo_did_not_answer_is_due_again_soon,
);
