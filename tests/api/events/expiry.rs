//! `session.expired` (SPEC §13): a session still pending at its deadline
//! (`sessions.pending_timeout`) gets exactly one event, written by the scheduler of one replica;
//! a session that finished first gets none.

use std::time::Duration;

use belvo_bff::domain::ids::SessionId;
use belvo_bff::domain::session::now_millis;
use belvo_bff::store::{DueEntry, Keys, RedisConnection};

use crate::helpers::{on_redis_and_cluster, spawn_app_with, spawn_settings, StoreKind, TestApp};

use super::{
    app_outbox, endpoint, eventually, finish, verify_in_rust, with_endpoints, Delivery, Receiver,
    EXIT,
};

/// Short enough for a test, long enough to finish a session before it.
const PENDING: Duration = Duration::from_secs(2);

async fn spawn_expiring(kind: StoreKind, receiver: &Receiver) -> TestApp {
    let url = receiver.url.clone();
    spawn_app_with(kind, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["session.*"])]);
        s.sessions.pending_timeout = PENDING;
    })
    .await
}

fn of_session(got: &[Delivery], id: &str) -> Vec<serde_json::Value> {
    got.iter()
        .map(Delivery::json)
        .filter(|e| e["data"]["session_id"] == id)
        .collect()
}

async fn a_pending_session_expires_with_one_event_and_a_finished_one_with_none(kind: StoreKind) {
    let receiver = Receiver::start(|_| 200);
    let app = spawn_expiring(kind, &receiver).await;
    // Finished first, and due first: its entry is claimed no later than the pending one's.
    let finished = finish(&app, "juan", "exit", EXIT).await;
    let pending = app.open("maria", "mx_employment", "ios").await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let got = receiver
        .until(Duration::from_secs(20), "the expired event", |d| {
            !of_session(d, &pending).is_empty()
        })
        .await;
    let events = of_session(&got, &pending);
    assert_eq!(events.len(), 1, "{got:#?}");
    let expired = &events[0];
    assert_eq!(expired["type"], "session.expired");
    assert_eq!(expired["data"]["sub"], "maria");
    assert_eq!(expired["data"]["product"], "mx_employment");
    assert_eq!(expired["data"]["sequence"], 1);
    assert!(expired["data"]["external_id"]
        .as_str()
        .unwrap()
        .starts_with("u_"));
    for delivery in &got {
        verify_in_rust(delivery);
    }
    let finished_events = of_session(&got, &finished);
    assert_eq!(finished_events.len(), 1, "{got:#?}");
    assert_eq!(finished_events[0]["type"], "session.exited");

    // The stored status: expired, and a late callback leaves it so.
    assert_eq!(app.status("maria", &pending).await["status"], "expired");
    app.callback(&pending, "exit", EXIT).await;
    assert_eq!(app.status("maria", &pending).await["status"], "expired");
    assert_eq!(app.status("juan", &finished).await["status"], "exited");
    assert_eq!(of_session(&receiver.deliveries(), &pending).len(), 1);
}

#[tokio::test]
async fn a_pending_session_expires_with_one_event_on_redis() {
    a_pending_session_expires_with_one_event_and_a_finished_one_with_none(StoreKind::Redis).await;
}

#[tokio::test]
async fn a_pending_session_expires_with_one_event_in_memory() {
    a_pending_session_expires_with_one_event_and_a_finished_one_with_none(StoreKind::Memory).await;
}

#[tokio::test]
async fn a_pending_session_expires_with_one_event_on_cluster() {
    a_pending_session_expires_with_one_event_and_a_finished_one_with_none(StoreKind::Cluster).await;
}

/// Two replicas' schedulers on one Redis (or Redis Cluster): the expiry is claimed by one and
/// runs once more after the claim's lease ran out as if the replica that ran it had stopped
/// before taking it off the schedule (so `expire_session` runs twice on one session, by either
/// replica's loop): one event in all.
async fn two_replicas_expire_a_session_with_one_event(kind: StoreKind) {
    let receiver = Receiver::start(|_| 200);
    let app = spawn_expiring(kind, &receiver).await;
    let _other = spawn_settings(app.settings.clone()).await;
    let pending = app.open("maria", "mx_employment", "ios").await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver
        .until(Duration::from_secs(20), "the expired event", |d| {
            !of_session(d, &pending).is_empty()
        })
        .await;
    let (_, prefix) = app.redis.as_ref().unwrap();
    let due = Keys::new(prefix).due();
    let member = DueEntry::Expire(SessionId::parse(&pending).unwrap()).member();
    let conn = app.redis_conn().await;
    let off_schedule = || {
        let conn = conn.clone();
        let (due, member) = (&due, &member);
        async move { (!on_schedule(conn, due, member).await).then_some(()) }
    };
    // The replica that expired it took it off the schedule.
    eventually(Duration::from_secs(10), "the expiry done", off_schedule).await;
    // Due again, as the claim's lease leaves it: the next loop to tick claims it and runs it.
    let _: i64 = redis::cmd("ZADD")
        .arg(&due)
        .arg(now_millis())
        .arg(&member)
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the expiry run again",
        off_schedule,
    )
    .await;
    // Everything written is delivered: a second event would be among the deliveries now.
    let store = app_outbox(&app).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    eventually(Duration::from_secs(10), "all delivered", || {
        let (store, group) = (store.clone(), group.clone());
        async move { (store.outbox_undelivered(&group).await.unwrap() == 0).then_some(()) }
    })
    .await;
    let events = of_session(&receiver.deliveries(), &pending);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "session.expired");
}

on_redis_and_cluster!(two_replicas_expire_a_session_with_one_event);

/// Whether `member` is in the due set `due` (claimed or not).
async fn on_schedule(mut conn: RedisConnection, due: &str, member: &str) -> bool {
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(due)
        .arg(member)
        .query_async(&mut conn)
        .await
        .unwrap();
    score.is_some()
}
