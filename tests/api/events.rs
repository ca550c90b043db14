//! Outbound events (SPEC §13): written with the state change, delivered signed per Standard
//! Webhooks to a local receiver, retried with backoff, dead after `notify.max_age`, taken over
//! from a replica that died holding them, and verified with an independent implementation
//! (the `standardwebhooks` package from PyPI, `scripts/standardwebhooks_venv.sh`).

mod deliveries;
mod demo_receiver;
mod expiry;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use belvo_bff::config::notify::Endpoint;
use belvo_bff::config::Settings;
use belvo_bff::domain::event::EventPattern;
use belvo_bff::domain::ids::SessionId;
use belvo_bff::domain::shard::Shard;
use belvo_bff::store::{Keys, Outbox};
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{
    cluster_store_with, redis_store_on, spawn_app_with, spawn_settings, test_redis_url, StoreKind,
    TestApp, LINK_ID,
};

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_ENV: &str = "TEST_EVENTS_SECRET";
const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";
pub(crate) const EXIT: &str = "meta_data_step=abandon-survey";
const ERROR: &str = "error=login_error&error_message=bad";
/// A receiver's answer that comes too late.
const HANG: u16 = 0;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) id: String,
    timestamp: String,
    signature: String,
    body: String,
    at: Instant,
}

impl Delivery {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn headers(&self) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("webhook-id", self.id.parse().unwrap());
        headers.insert("webhook-timestamp", self.timestamp.parse().unwrap());
        headers.insert("webhook-signature", self.signature.parse().unwrap());
        headers
    }
}

/// A local receiver: answers the n-th request (from 0) with `answer(n)`, keeps every request.
/// `HANG` answers only after 3 seconds, past the tests' 1s `notify.timeout`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    pub(crate) fn start(answer: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Self {
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let answer = Arc::new(answer);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let kept = got.clone();
        let server = HttpServer::new(move || {
            let (kept, answer) = (kept.clone(), answer.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (kept, answer) = (kept.clone(), answer.clone());
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let status = {
                        let mut got = kept.lock().unwrap();
                        let status = answer(got.len());
                        got.push(Delivery {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                            at: Instant::now(),
                        });
                        status
                    };
                    if status == HANG {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    let status = if status == HANG { 200 } else { status };
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { url, got }
    }

    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `enough` holds for what arrived (at most `limit`); returns it.
    pub(crate) async fn until(
        &self,
        limit: Duration,
        what: &str,
        enough: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.deliveries();
            if enough(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {limit:?}; got {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until `check` answers something (at most `limit`).
pub(crate) async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    check: impl Fn() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn endpoint(url: &str, events: &[&str]) -> Endpoint {
    Endpoint {
        url: url.parse().unwrap(),
        events: events
            .iter()
            .map(|e| EventPattern::parse(e).unwrap())
            .collect(),
        secret_env: SECRET_ENV.into(),
    }
}

/// Quick retries for tests: a receiver gets a second after its 1s timeout before a retry.
pub(crate) fn with_endpoints(settings: &mut Settings, endpoints: Vec<Endpoint>) {
    settings.notify.endpoints = endpoints;
    settings
        .secrets
        .notify
        .insert(SECRET_ENV.into(), SECRET.to_owned().into());
    settings.notify.timeout = Duration::from_secs(1);
    settings.notify.backoff = Duration::from_millis(200);
    settings.notify.max_backoff = Duration::from_secs(1);
    settings.notify.poll = Duration::from_millis(50);
}

async fn spawn_notifying(kind: StoreKind, receiver: &Receiver) -> TestApp {
    let url = receiver.url.clone();
    spawn_app_with(kind, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["session.*"])])
    })
    .await
}

/// Opens a session for `sub` and sends one widget callback; returns the session id.
pub(crate) async fn finish(app: &TestApp, sub: &str, kind: &str, query: &str) -> String {
    let id = app.open(sub, "mx_employment", "ios").await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app.callback(&id, kind, query).await;
    assert_eq!(response.status(), 302);
    id
}

pub(crate) fn verify_in_rust(delivery: &Delivery) {
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(delivery.body.as_bytes(), &delivery.headers())
        .unwrap_or_else(|e| panic!("{e:?}: {delivery:#?}"));
}

/// The PyPI package's verdicts on each delivery: the real one, a tampered body, a stale
/// timestamp.
fn verify_in_python(deliveries: &[Delivery]) -> Vec<Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    let venv = std::process::Command::new("bash")
        .arg(format!("{root}/scripts/standardwebhooks_venv.sh"))
        .output()
        .unwrap();
    assert!(
        venv.status.success(),
        "{}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let python = String::from_utf8(venv.stdout).unwrap().trim().to_owned();
    let request = json!({
        "secret": SECRET,
        "deliveries": deliveries.iter().map(|d| json!({
            "headers": {"webhook-id": d.id, "webhook-timestamp": d.timestamp, "webhook-signature": d.signature},
            "body": d.body,
        })).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(python)
        .arg(format!("{root}/tests/events/verify_standardwebhooks.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn session_events_are_delivered_signed_and_verify_with_an_independent_implementation(
    kind: StoreKind,
) {
    let everything = Receiver::start(|_| 200);
    let failures = Receiver::start(|_| 204);
    let (all_url, failed_url) = (everything.url.clone(), failures.url.clone());
    let app = spawn_app_with(kind, move |s| {
        with_endpoints(
            s,
            vec![
                endpoint(&all_url, &["session.*"]),
                endpoint(&failed_url, &["session.failed"]),
            ],
        )
    })
    .await;
    let succeeded = finish(&app, "maria", "success", SUCCESS).await;
    let exited = finish(&app, "juan", "exit", EXIT).await;
    let failed = finish(&app, "ana", "event", ERROR).await;

    let got = everything
        .until(Duration::from_secs(10), "three events", |d| d.len() >= 3)
        .await;
    let by_session = |id: &str| {
        got.iter()
            .find(|d| d.json()["data"]["session_id"] == id)
            .unwrap_or_else(|| panic!("no event for {id}: {got:#?}"))
            .json()
    };
    let success = by_session(&succeeded);
    assert_eq!(success["type"], "session.succeeded");
    assert_eq!(success["data"]["sub"], "maria");
    assert_eq!(success["data"]["link_id"], LINK_ID);
    assert_eq!(success["data"]["product"], "mx_employment");
    assert_eq!(success["data"]["institution"], "planet_mx_employment");
    assert_eq!(success["data"]["sequence"], 1);
    assert!(success["data"]["external_id"]
        .as_str()
        .unwrap()
        .starts_with("u_"));
    assert!(success["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(by_session(&exited)["type"], "session.exited");
    let failure = by_session(&failed);
    assert_eq!(failure["type"], "session.failed");
    assert_eq!(failure["data"]["reason"], "login_error");
    assert_eq!(failure["data"]["sub"], "ana");

    // One delivery per endpoint per event; the second endpoint wants failures only.
    let only_failures = failures
        .until(Duration::from_secs(10), "the failure", |d| !d.is_empty())
        .await;
    assert_eq!(only_failures.len(), 1, "{only_failures:#?}");
    assert_eq!(only_failures[0].json()["data"]["session_id"], failed);
    let mut ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three events, each once: {got:#?}");
    assert!(
        ids.contains(&only_failures[0].id.as_str()),
        "the same webhook-id"
    );

    for delivery in &got {
        assert!(delivery.signature.starts_with("v1,"), "{delivery:?}");
        verify_in_rust(delivery);
    }
    let verdicts = verify_in_python(&got);
    for (delivery, verdict) in got.iter().zip(&verdicts) {
        assert_eq!(verdict["real"]["ok"], delivery.json(), "{verdict}");
        assert!(
            verdict["tampered"]["refused"]
                .as_str()
                .is_some_and(|e| e.contains("signature")),
            "{verdict}"
        );
        assert!(
            verdict["stale"]["refused"]
                .as_str()
                .is_some_and(|e| e.contains("timestamp")),
            "{verdict}"
        );
    }
}

#[tokio::test]
async fn include_sub_false_leaves_the_sub_out_of_events_and_sessions() {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    let app = spawn_app_with(StoreKind::Redis, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["*"])]);
        s.notify.include_sub = false;
    })
    .await;
    let id = finish(&app, "maria", "exit", EXIT).await;
    let got = receiver
        .until(Duration::from_secs(10), "the event", |d| !d.is_empty())
        .await;
    let data = &got[0].json()["data"];
    assert_eq!(data["session_id"], id);
    assert!(data.get("sub").is_none(), "{data}");
    let mut conn = app.redis_conn().await;
    let sub: Option<String> = redis::cmd("HGET")
        .arg(app.session_key(&id))
        .arg("sub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sub, None);
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_written() {
    let app = spawn_app_with(StoreKind::Redis, |_| {}).await;
    let id = finish(&app, "maria", "success", SUCCESS).await;
    let (_, prefix) = app.redis.as_ref().unwrap();
    let mut conn = app.redis_conn().await;
    let keys = Keys::new(prefix);
    let outbox: i64 = redis::cmd("EXISTS")
        .arg(
            Shard::all()
                .map(|shard| keys.outbox_of(shard))
                .collect::<Vec<_>>(),
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(outbox, 0);
    let sub: Option<String> = redis::cmd("HGET")
        .arg(app.session_key(&id))
        .arg("sub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sub, None, "the sub is kept only for events");
}

async fn a_failing_receiver_is_retried_with_backoff_until_it_answers(kind: StoreKind) {
    let receiver = Receiver::start(|n| if n < 2 { 500 } else { 200 });
    let app = spawn_notifying(kind, &receiver).await;
    let id = finish(&app, "maria", "success", SUCCESS).await;
    let got = receiver
        .until(Duration::from_secs(20), "the third attempt", |d| {
            d.len() >= 3
        })
        .await;
    assert!(
        got.iter().all(|d| d.id == got[0].id),
        "one webhook-id: {got:#?}"
    );
    assert!(got.iter().all(|d| d.body == got[0].body), "the same body");
    assert_eq!(got[0].json()["data"]["session_id"], id);
    for pair in got.windows(2) {
        // At least the takeover guard (timeout + 1s), less scheduling slack.
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(1500), "retried after {gap:?}");
    }
    if kind == StoreKind::Memory {
        // The memory store is the app's own: its acknowledgement is checked on Redis.
        return;
    }
    let store = app_outbox(&app).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    eventually(Duration::from_secs(5), "acknowledged", || {
        let (store, group) = (store.clone(), group.clone());
        async move { (store.outbox_undelivered(&group).await.unwrap() == 0).then_some(()) }
    })
    .await;
    // Delivered: never sent again.
    assert_eq!(receiver.deliveries().len(), 3);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_redis() {
    a_failing_receiver_is_retried_with_backoff_until_it_answers(StoreKind::Redis).await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_in_memory() {
    a_failing_receiver_is_retried_with_backoff_until_it_answers(StoreKind::Memory).await;
}

/// The app's outbox through a store of its own on the same Redis and prefix.
pub(crate) async fn app_outbox(app: &TestApp) -> Arc<dyn Outbox> {
    match &app.redis {
        Some((StoreKind::Cluster, prefix)) => {
            Arc::new(cluster_store_with(prefix, Duration::from_secs(60)).await)
        }
        Some((_, prefix)) => {
            Arc::new(redis_store_on(&test_redis_url(), prefix, Duration::from_secs(60)).await)
        }
        None => panic!("in memory the app's outbox is its own"),
    }
}

#[tokio::test]
async fn a_receiver_failing_forever_makes_the_event_dead_after_max_age() {
    let receiver = Receiver::start(|_| 500);
    let url = receiver.url.clone();
    let app = spawn_app_with(StoreKind::Redis, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["session.*"])]);
        s.notify.max_age = Duration::from_secs(3);
    })
    .await;
    let id = finish(&app, "maria", "exit", EXIT).await;
    let store = app_outbox(&app).await;
    let dead = eventually(Duration::from_secs(20), "the dead event", || {
        let store = store.clone();
        async move {
            let dead = store.outbox_dead_entries().await.unwrap();
            (!dead.is_empty()).then_some(dead)
        }
    })
    .await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["session_id"], id);
    assert_eq!(dead[0]["answer"], "HTTP 500");
    let attempts = receiver.deliveries().len();
    assert!(attempts >= 2, "retried before dying: {attempts}");
    assert_eq!(dead[0]["attempts"], attempts.to_string());
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    assert_eq!(store.outbox_undelivered(&group).await.unwrap(), 0);
}

/// A replica that read an event and died before delivering it: another takes it over once it
/// has been held longer than `notify.timeout` plus a second, and delivers it with its id.
#[tokio::test]
async fn events_held_by_a_dead_replica_are_delivered_by_another() {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    // The first replica writes events but does not deliver.
    let writer = spawn_app_with(StoreKind::Redis, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["session.*"])]);
        s.notify.deliver = false;
    })
    .await;
    let id = finish(&writer, "maria", "success", SUCCESS).await;
    // A replica takes the event and dies with it.
    let store = app_outbox(&writer).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    let held = store
        .outbox_read(&group, "replica-that-dies", 10)
        .await
        .unwrap();
    // The forged link's `link.verification_failed` may be held too (not for this endpoint).
    let held: Vec<_> = held
        .into_iter()
        .filter(|e| e.fields["type"].starts_with("session."))
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].fields["session_id"], id);

    // Another replica on the same Redis delivers it.
    let mut settings = writer.settings.clone();
    settings.notify.deliver = true;
    let taken_at = Instant::now();
    let _other = spawn_settings(settings).await;
    let got = receiver
        .until(Duration::from_secs(10), "the taken-over event", |d| {
            !d.is_empty()
        })
        .await;
    assert_eq!(got[0].id, belvo_bff::notify::webhook_id(&held[0].id));
    assert_eq!(got[0].json()["data"]["session_id"], id);
    verify_in_rust(&got[0]);
    assert!(
        taken_at.elapsed() >= Duration::from_millis(900),
        "not taken before the holder's time is up"
    );
    eventually(Duration::from_secs(5), "acknowledged", || {
        let (store, group) = (store.clone(), group.clone());
        async move { (store.outbox_undelivered(&group).await.unwrap() == 0).then_some(()) }
    })
    .await;
    assert_eq!(receiver.deliveries().len(), 1);
}

/// Two endpoints: the sessions' events come from every shard's stream, and each endpoint gets
/// each event once, with the same webhook-id.
async fn sessions_finishing_at_once_are_one_event_each(kind: StoreKind, sessions: usize) {
    let receiver = Receiver::start(|_| 200);
    let second = Receiver::start(|_| 200);
    let urls = (receiver.url.clone(), second.url.clone());
    let app = spawn_app_with(kind, move |s| {
        with_endpoints(
            s,
            vec![
                endpoint(&urls.0, &["session.*"]),
                endpoint(&urls.1, &["session.*"]),
            ],
        )
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..sessions {
        let id = app.open(&format!("user-{i}"), "mx_employment", "ios").await["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.push(id);
    }
    // A hundred callbacks in flight at a time: all at once, the debug build on a shared machine
    // answers some with 503 (Redis commands past `store.timeout`), which is a capacity limit, not
    // what this test is about (every acknowledged callback has exactly its event).
    let responses: Vec<_> = futures_util::stream::iter(ids.iter().enumerate().map(|(i, id)| {
        let (kind, query) = match i % 3 {
            0 => (
                "success",
                SUCCESS.replace(LINK_ID, &uuid::Uuid::new_v4().to_string()),
            ),
            1 => ("exit", EXIT.to_owned()),
            _ => ("event", ERROR.to_owned()),
        };
        let app = &app;
        async move { app.callback(id, kind, &query).await.status() }
    }))
    .buffer_unordered(100)
    .collect()
    .await;
    assert!(responses.iter().all(|s| *s == 302), "{responses:?}");
    // At least once: a delivery taken over from a slow holder may arrive twice, with the same
    // webhook-id and body. What must hold is one event (one webhook-id) per session.
    let distinct = |d: &[Delivery]| {
        d.iter()
            .map(|d| d.id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let got = receiver
        .until(Duration::from_secs(120), "every event", |d| {
            distinct(d) >= sessions
        })
        .await;
    let per_session = one_event_per_session(&got);
    let mut delivered: Vec<String> = per_session.keys().cloned().collect();
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids, "each session's event, one webhook-id each");
    let shards: std::collections::BTreeSet<Shard> = ids
        .iter()
        .map(|id| Shard::of_session(&SessionId::parse(id).unwrap()))
        .collect();
    assert_eq!(shards.len(), usize::from(Shard::COUNT), "from every shard");
    let to_second = second
        .until(Duration::from_secs(60), "every event", |d| {
            distinct(d) >= sessions
        })
        .await;
    assert_eq!(
        one_event_per_session(&to_second),
        per_session,
        "the same event, with the same webhook-id, to the second endpoint"
    );
}

/// Session id → the webhook-id of its event; fails when a session has two, or when one
/// webhook-id came with two bodies.
fn one_event_per_session(got: &[Delivery]) -> std::collections::BTreeMap<String, String> {
    let mut bodies = std::collections::BTreeMap::new();
    let mut per_session = std::collections::BTreeMap::new();
    for d in got {
        let body = d.json();
        if let Some(first) = bodies.insert(d.id.clone(), body.clone()) {
            assert_eq!(first, body, "one webhook-id, one body");
        }
        let session = body["data"]["session_id"].as_str().unwrap().to_owned();
        if let Some(other) = per_session.insert(session.clone(), d.id.clone()) {
            assert_eq!(other, d.id, "session {session}: two webhook-ids");
        }
    }
    per_session
}

async fn two_hundred_sessions_finishing_at_once_are_two_hundred_events(kind: StoreKind) {
    sessions_finishing_at_once_are_one_event_each(kind, 200).await;
}

#[tokio::test]
async fn a_thousand_sessions_finishing_at_once_are_a_thousand_events() {
    sessions_finishing_at_once_are_one_event_each(StoreKind::Redis, 1_000).await;
}

crate::helpers::on_redis_and_cluster!(
    session_events_are_delivered_signed_and_verify_with_an_independent_implementation,
    two_hundred_sessions_finishing_at_once_are_two_hundred_events,
);

/// The outbox is trimmed only past what the endpoint's group has delivered: an event held by a
/// replica, or not handed out yet, stays.
#[tokio::test]
async fn the_outbox_is_trimmed_only_past_delivered_events() {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    let writer = spawn_app_with(StoreKind::Redis, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["session.*"])]);
        s.notify.deliver = false;
    })
    .await;
    let (_, prefix) = writer.redis.clone().unwrap();
    let store = app_outbox(&writer).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    let groups = [group.clone()];
    let mut conn = writer.redis_conn().await;
    let keys = Keys::new(&prefix);
    // Three sessions of one shard, so that one stream holds their events in order.
    let mut by_shard: std::collections::HashMap<Shard, Vec<String>> = Default::default();
    let (shard, ids) = loop {
        let id = writer.open("maria", "mx_employment", "ios").await["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let shard = Shard::of_session(&SessionId::parse(&id).unwrap());
        let ids = by_shard.entry(shard).or_default();
        ids.push(id);
        if ids.len() == 3 {
            break (shard, ids.clone());
        }
    };
    for id in &ids {
        assert_eq!(writer.callback(id, "exit", EXIT).await.status(), 302);
    }
    let xlen = |conn: &mut belvo_bff::store::RedisConnection| {
        let mut conn = conn.clone();
        let key = keys.outbox_of(shard);
        async move {
            redis::cmd("XLEN")
                .arg(key)
                .query_async::<u64>(&mut conn)
                .await
                .unwrap()
        }
    };
    assert_eq!(xlen(&mut conn).await, 3);
    // One held, two not handed out: nothing goes.
    let held = store.outbox_read(&group, "a-replica", 1).await.unwrap();
    assert_eq!(store.outbox_trim(&groups).await.unwrap(), 0);
    assert_eq!(xlen(&mut conn).await, 3);
    assert_eq!(store.outbox_undelivered(&group).await.unwrap(), 3);
    // All handed out, the first still held: still nothing.
    let rest = store.outbox_read(&group, "a-replica", 10).await.unwrap();
    assert_eq!(rest.len(), 2);
    for entry in &rest {
        store.outbox_ack(&group, &entry.id).await.unwrap();
    }
    assert_eq!(store.outbox_trim(&groups).await.unwrap(), 0);
    assert_eq!(xlen(&mut conn).await, 3);
    // The first delivered too: everything before the last handed out goes.
    store.outbox_ack(&group, &held[0].id).await.unwrap();
    assert_eq!(store.outbox_undelivered(&group).await.unwrap(), 0);
    assert_eq!(store.outbox_trim(&groups).await.unwrap(), 2);
    assert_eq!(xlen(&mut conn).await, 1);
    // A group this replica does not know (another configuration) holds nothing back, and an
    // unknown configured group trims nothing.
    assert_eq!(
        store
            .outbox_trim(&[group.clone(), "ep-unknown".into()])
            .await
            .unwrap(),
        0
    );
}

/// With Redis down at start, a replica with an endpoint still starts (its consumer groups are
/// made once Redis answers), as every replica does.
#[tokio::test]
async fn a_replica_with_an_endpoint_starts_while_redis_is_down() {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = crate::helpers::base_settings(StoreKind::Redis);
    settings.store.redis_url = format!("redis://127.0.0.1:{free_port}");
    settings.store.timeout = Duration::from_millis(300);
    with_endpoints(&mut settings, vec![endpoint(&url, &["session.*"])]);
    let built = belvo_bff::startup::Application::build(settings).await;
    assert!(built.is_ok(), "{:?}", built.err());
}

/// A receiver that hangs past `notify.timeout`: the attempt counts as failed and the event is
/// sent again, with the same id, once the holder's time is up.
#[tokio::test]
async fn a_receiver_hanging_past_the_timeout_gets_the_event_again() {
    let receiver = Receiver::start(|n| if n == 0 { HANG } else { 200 });
    let app = spawn_notifying(StoreKind::Redis, &receiver).await;
    let id = finish(&app, "maria", "success", SUCCESS).await;
    let got = receiver
        .until(Duration::from_secs(15), "the second attempt", |d| {
            d.len() >= 2
        })
        .await;
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[1].json()["data"]["session_id"], id);
    assert!(got[1].at - got[0].at >= Duration::from_millis(1500));
    let store = app_outbox(&app).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    eventually(Duration::from_secs(5), "acknowledged", || {
        let (store, group) = (store.clone(), group.clone());
        async move { (store.outbox_undelivered(&group).await.unwrap() == 0).then_some(()) }
    })
    .await;
}

/// `/metrics` reports the age of the oldest event an endpoint has not been given.
#[tokio::test]
async fn metrics_report_the_oldest_undelivered_event() {
    let receiver = Receiver::start(|_| 503);
    let app = spawn_notifying(StoreKind::Redis, &receiver).await;
    finish(&app, "maria", "exit", EXIT).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    let line = format!("bff_events_oldest_undelivered_seconds{{endpoint=\"{group}\"}} ");
    let age = eventually(Duration::from_secs(15), "the gauge", || {
        let (client, url, line) = (app.client.clone(), app.url("/metrics"), line.clone());
        async move {
            let text = client.get(url).send().await.ok()?.text().await.ok()?;
            let value = text.lines().find_map(|l| l.strip_prefix(line.as_str()))?;
            let age: f64 = value.trim().parse().ok()?;
            (age > 0.0).then_some(age)
        }
    })
    .await;
    assert!(age < 60.0, "{age}");
}

/// The `link.*` events of one link, in the order they were delivered.
fn link_events(got: &[Delivery], link: &str) -> Vec<Value> {
    got.iter()
        .map(Delivery::json)
        .filter(|e| e["data"]["link_id"] == link)
        .collect()
}

async fn link_call(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap()
}

/// A link's life as its events tell it: confirmed by Belvo, a changed password, fixed
/// elsewhere, gone at Belvo, deleted by its owner; and a forged success left unverified. Each
/// event is written with its change, numbered per link, and verifies with the PyPI package.
async fn link_events_follow_the_links_life(kind: StoreKind) {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    let app = spawn_app_with(kind, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["link.*"])])
    })
    .await;
    let (_, link) = app
        .connect("maria", "mx_employment", "planet_mx_employment")
        .await;
    let has = |wanted: &'static str| {
        let link = link.clone();
        move |got: &[Delivery]| link_events(got, &link).iter().any(|e| e["type"] == wanted)
    };
    let wait = Duration::from_secs(15);
    receiver
        .until(wait, "link.verified", has("link.verified"))
        .await;

    app.emulator_control(&link, "break", json!({"reason": "invalid_credentials"}))
        .await;
    receiver
        .until(wait, "link.needs_reconnect", has("link.needs_reconnect"))
        .await;
    app.emulator_control(&link, "repair", json!({})).await;
    let check = format!("/v1/links/{link}/check");
    let checked = link_call(&app, reqwest::Method::POST, &check).await;
    assert_eq!(checked.status(), 200);
    receiver
        .until(wait, "link.repaired", has("link.repaired"))
        .await;

    app.emulator_control(&link, "break", json!({"reason": "gone"}))
        .await;
    // The check of a minute ago holds the next one back: a data call finds it gone.
    let owners = format!("/v1/links/{link}/owners");
    let gone = link_call(&app, reqwest::Method::GET, &owners).await;
    assert_eq!(gone.status(), 410);
    receiver.until(wait, "link.gone", has("link.gone")).await;
    let deleted = link_call(&app, reqwest::Method::DELETE, &format!("/v1/links/{link}")).await;
    assert_eq!(deleted.status(), 204);
    let ready = has("link.resources_ready");
    let deleted = has("link.deleted");
    let got = receiver
        .until(wait, "link.deleted", |got| ready(got) && deleted(got))
        .await;

    // The link's one resource became ready at some point of this (`tests/api/resources_ready.rs`
    // follows that event); it takes its number in the link's sequence too.
    let mut events = link_events(&got, &link);
    events.sort_by_key(|e| e["data"]["sequence"].as_u64());
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["data"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6], "{events:#?}");
    events.retain(|e| e["type"] != "link.resources_ready");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "link.verified",
            "link.needs_reconnect",
            "link.repaired",
            "link.gone",
            "link.deleted"
        ],
        "{events:#?}"
    );
    for event in &events {
        assert_eq!(event["data"]["sub"], "maria", "{event}");
        assert_eq!(event["data"]["product"], "mx_employment", "{event}");
        assert!(event["data"]["external_id"]
            .as_str()
            .unwrap()
            .starts_with("u_"));
    }
    assert_eq!(events[1]["data"]["health"], "needs_reconnect");
    assert_eq!(events[1]["data"]["reason"], "invalid_credentials");
    assert_eq!(events[2]["data"]["health"], "ok");
    assert_eq!(events[3]["data"]["health"], "gone");
    assert_eq!(events[3]["data"]["reason"], "link_gone");

    // A success naming a link Belvo never made: verification fails.
    finish(&app, "ana", "success", SUCCESS).await;
    let got = receiver
        .until(Duration::from_secs(30), "link.verification_failed", |got| {
            link_events(got, LINK_ID)
                .iter()
                .any(|e| e["type"] == "link.verification_failed")
        })
        .await;
    let forged = link_events(&got, LINK_ID);
    assert_eq!(forged.len(), 1, "{forged:#?}");
    assert_eq!(forged[0]["data"]["sub"], "ana");

    let verdicts = verify_in_python(&got);
    for (delivery, verdict) in got.iter().zip(&verdicts) {
        assert_eq!(verdict["real"]["ok"], delivery.json(), "{verdict}");
    }
}

#[tokio::test]
async fn link_events_follow_the_links_life_on_redis() {
    link_events_follow_the_links_life(StoreKind::Redis).await;
}

#[tokio::test]
async fn link_events_follow_the_links_life_in_memory() {
    link_events_follow_the_links_life(StoreKind::Memory).await;
}

/// On a cluster each link event goes to the stream of the link's shard, in the same script as
/// the change (one slot).
#[tokio::test]
async fn link_events_follow_the_links_life_on_cluster() {
    link_events_follow_the_links_life(StoreKind::Cluster).await;
}

/// A `br_ofda` link's consent as its events tell it (SPEC §12 and §13): about to expire,
/// expired, then active again when data flows after the expiry — each written by the CONSENT
/// or data webhook's health change, in order, numbered after the link's earlier events.
async fn consent_events_follow_the_consent(kind: StoreKind) {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    let app = spawn_app_with(kind, move |s| {
        with_endpoints(
            s,
            vec![endpoint(
                &url,
                &[
                    "link.consent_expiring",
                    "link.consent_expired",
                    "link.repaired",
                ],
            )],
        )
    })
    .await;
    let (_, link) = app.connect("maria", "br_ofda", "erebor_br_retail").await;
    let has = |wanted: &'static str| {
        let link = link.clone();
        move |got: &[Delivery]| link_events(got, &link).iter().any(|e| e["type"] == wanted)
    };
    let wait = Duration::from_secs(15);
    app.emulator_control(&link, "break", json!({"reason": "consent_expiring"}))
        .await;
    receiver
        .until(wait, "link.consent_expiring", has("link.consent_expiring"))
        .await;
    app.emulator_control(&link, "break", json!({"reason": "consent_expired"}))
        .await;
    receiver
        .until(wait, "link.consent_expired", has("link.consent_expired"))
        .await;
    let data = json!({
        "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
        "webhook_type": "TRANSACTIONS", "webhook_code": "new_transactions_available",
        "process_type": "recurrent_update", "link_id": link, "data": {"count": 3},
    });
    assert_eq!(app.webhook(&data).await.status(), 200);
    let got = receiver
        .until(wait, "link.repaired", has("link.repaired"))
        .await;
    let events = link_events(&got, &link);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "link.consent_expiring",
            "link.consent_expired",
            "link.repaired"
        ]
    );
    assert_eq!(events[1]["data"]["health"], "consent_expired");
    assert_eq!(events[2]["data"]["health"], "ok");
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["data"]["sequence"].as_u64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
}

#[tokio::test]
async fn consent_events_follow_the_consent_on_redis() {
    consent_events_follow_the_consent(StoreKind::Redis).await;
}

#[tokio::test]
async fn consent_events_follow_the_consent_on_cluster() {
    consent_events_follow_the_consent(StoreKind::Cluster).await;
}

#[tokio::test]
async fn consent_events_follow_the_consent_in_memory() {
    consent_events_follow_the_consent(StoreKind::Memory).await;
}
