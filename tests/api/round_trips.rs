//! Redis round trips per request, as Redis itself counts them (`total_reads_processed`: a
//! pipeline arrives in one read) on a redis-server of the test's own, so no other test's
//! traffic is counted: one per status read (linked or not), per callback, per webhook, and three
//! for a first success with its link's verification.
//!
//! The first use of each Lua script on a server also loads it (EVALSHA, NOSCRIPT, EVAL), so each
//! path runs once before it is counted. The first commands also make each thread's own
//! connection in the background, whose set-up is a read as well: the status reads wait for that.

use std::time::{Duration, Instant};

use belvo_bff::store::Keys;
use serde_json::json;

use crate::helpers::{spawn_app_with, StoreKind, TestApp};
use crate::own_redis::{info_stat, OwnRedis};

const N: u64 = 20;

/// Socket reads Redis has processed so far.
async fn reads(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    info_stat(conn, "total_reads_processed").await
}

/// The reads Redis processes while `requests` run, less what reading the counter costs.
async fn counted<F: std::future::Future<Output = ()>>(
    conn: &mut redis::aio::MultiplexedConnection,
    requests: F,
) -> u64 {
    let start = reads(conn).await;
    let idle = reads(conn).await - start;
    let before = reads(conn).await;
    requests.await;
    reads(conn).await - before - idle
}

/// The fewest reads of up to three runs of `requests` (stopping at `expected`): a background
/// write that lands inside one window (a late webhook of the emulator, a link check's follow-up
/// on a loaded machine) inflates that run only, while a path that really costs more does in
/// every run.
async fn fewest<F, Fut>(
    conn: &mut redis::aio::MultiplexedConnection,
    expected: u64,
    requests: F,
) -> u64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        fewest = fewest.min(counted(conn, requests()).await);
        if fewest <= expected {
            break;
        }
    }
    fewest
}

/// Runs `request` until one costs a single read with no connection still being set up before
/// it (connected, but its set-up commands not yet processed: `cmd=NULL` in CLIENT LIST; redis-rs
/// sends them with the connection's first command), so the set-up of a connection that the
/// first requests started making is not counted as their round trip.
async fn settled<F, Fut>(conn: &mut redis::aio::MultiplexedConnection, request: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut *conn)
            .await
            .unwrap();
        let setting_up = clients.lines().any(|l| l.contains(" cmd=NULL "));
        if counted(conn, request()).await == 1 && !setting_up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a request never settled to one round trip:\n{clients}"
        );
    }
}

async fn app_on_own_redis(redis: &OwnRedis) -> (TestApp, redis::aio::MultiplexedConnection) {
    let url = redis.url();
    // No background link checks, and the institution status snapshot read once at start only:
    // they would be counted as the requests' round trips.
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url.clone();
        s.links.background_checks = false;
        s.institutions.status_refresh = Duration::from_secs(3600);
    })
    .await;
    let conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    (app, conn)
}

#[tokio::test]
async fn a_status_read_is_one_round_trip_pending_or_linked() {
    let redis = OwnRedis::start();
    let (app, mut conn) = app_on_own_redis(&redis).await;

    let pending = app.open("rosa", "mx_employment", "ios").await;
    let pending = pending["session_id"].as_str().unwrap().to_owned();
    settled(&mut conn, || async {
        assert_eq!(app.status("rosa", &pending).await["status"], "pending");
    })
    .await;
    let trips = fewest(&mut conn, N, || async {
        for _ in 0..N {
            assert_eq!(app.status("rosa", &pending).await["status"], "pending");
        }
    })
    .await;
    assert_eq!(trips, N, "pending session: one round trip per read");

    // A linked session whose webhooks and verification have all arrived (nothing left running
    // in the background to count).
    let (linked, _) = app
        .connect("rosa", "mx_employment", "imss_mx_employment")
        .await;
    let settled = app.status_until_resources("rosa", &linked).await;
    assert_eq!(settled["status"], "succeeded");
    assert_eq!(settled["link_verified"], true);
    let trips = fewest(&mut conn, N, || async {
        for _ in 0..N {
            let status = app.status("rosa", &linked).await;
            assert_eq!(status["resources"], settled["resources"]);
        }
    })
    .await;
    assert_eq!(trips, N, "linked session: one round trip per read");
}

#[tokio::test]
async fn a_linked_status_read_shows_a_webhook_recorded_after_the_last_read() {
    let redis = OwnRedis::start();
    let (app, _) = app_on_own_redis(&redis).await;
    let session = app.open("tomas", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let link = uuid::Uuid::new_v4().to_string();
    let response = app
        .callback(
            &id,
            "success",
            &format!("link={link}&institution=imss_mx_employment"),
        )
        .await;
    assert_eq!(response.status(), 302);
    let before = app.status("tomas", &id).await;
    assert_eq!(
        before["resources"]["EMPLOYMENT_RECORDS"]["status"],
        "pending"
    );

    // Each read sees what the webhook before it recorded: nothing about the link is cached.
    for (n, total) in [(1, 3), (2, 5)] {
        let response = app
            .webhook(&json!({
                "webhook_id": format!("rt-{n}"),
                "webhook_type": "EMPLOYMENT_RECORDS",
                "webhook_code": "historical_update",
                "process_type": "historical_update",
                "link_id": link,
                "external_id": session_external_id(&app, &id).await,
                "data": {"total_employment_record_profiles": total},
            }))
            .await;
        assert_eq!(response.status(), 200);
        let after = app.status("tomas", &id).await;
        assert_eq!(after["resources"]["EMPLOYMENT_RECORDS"]["status"], "ready");
        assert_eq!(after["resources"]["EMPLOYMENT_RECORDS"]["total"], total);
    }
}

/// The external_id the BFF sent Belvo for this session's user (read from the stored session).
async fn session_external_id(app: &TestApp, session_id: &str) -> String {
    let mut conn = app.redis_conn().await;
    redis::cmd("HGET")
        .arg(app.session_key(session_id))
        .arg("owner")
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_callback_and_a_webhook_are_one_round_trip_each() {
    let redis = OwnRedis::start();
    let (app, mut conn) = app_on_own_redis(&redis).await;
    let mut sessions = Vec::new();
    for _ in 0..=N {
        let session = app.open("ines", "mx_employment", "android").await;
        sessions.push(session["session_id"].as_str().unwrap().to_owned());
    }
    let (first, sessions) = sessions.split_first().unwrap();
    app.callback(first, "exit", "").await; // loads the script
    let trips = counted(&mut conn, async {
        for id in sessions {
            let response = app
                .callback(id, "exit", "meta_data_step=abandon-survey")
                .await;
            assert_eq!(response.status(), 302);
        }
    })
    .await;
    assert_eq!(trips, N, "one round trip per exit callback");

    let link = uuid::Uuid::new_v4().to_string();
    let webhook = |n: u64| {
        let body = json!({
            "webhook_id": format!("one-trip-{n}"),
            "webhook_type": "EMPLOYMENT_RECORDS",
            "webhook_code": "historical_update",
            "process_type": "historical_update",
            "link_id": link,
            "external_id": "someone",
            "data": {"total_employment_record_profiles": n},
        });
        let app = &app;
        async move { assert_eq!(app.webhook(&body).await.status(), 200) }
    };
    webhook(0).await;
    let trips = counted(&mut conn, async {
        for n in 1..=N {
            webhook(n).await;
        }
    })
    .await;
    assert_eq!(trips, N, "one round trip per webhook");
    // Nothing else trickles in afterwards (no background work was left to count).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(counted(&mut conn, async {}).await, 0);
}

/// A replay, the commonest callback (apps retry deeplinks), sends Redis what a replay needs
/// (the session, the event's fingerprint, the time) instead of everything the event would
/// change: one round trip still, at under a third of the bytes of the event's first arrival.
#[tokio::test]
async fn a_replayed_callback_is_one_round_trip_and_sends_only_what_a_replay_needs() {
    let redis = OwnRedis::start();
    let (app, mut conn) = app_on_own_redis(&redis).await;
    let mut sessions = Vec::new();
    for _ in 0..=N {
        sessions.push(open(&app).await);
    }
    let (first, sessions) = sessions.split_first().unwrap();
    const EXIT: &str = "last_encountered_error_code=login_error&meta_data_step=abandon-survey";
    // Loads both scripts.
    for _ in 0..2 {
        assert_eq!(app.callback(first, "exit", EXIT).await.status(), 302);
    }
    let exit_all = || async {
        for id in sessions {
            let response = app.callback(id, "exit", EXIT).await;
            assert_eq!(response.status(), 302);
            assert!(location(&response).ends_with("status=exited"));
        }
    };
    let before = info_stat(&mut conn, "total_net_input_bytes").await;
    exit_all().await;
    let first_bytes = info_stat(&mut conn, "total_net_input_bytes").await - before;
    let before = info_stat(&mut conn, "total_net_input_bytes").await;
    let trips = counted(&mut conn, exit_all()).await;
    let replay_bytes = info_stat(&mut conn, "total_net_input_bytes").await - before;
    assert_eq!(trips, N, "one round trip per replayed callback");
    assert!(
        replay_bytes * 3 < first_bytes,
        "{N} replays sent {replay_bytes} bytes, their first arrivals {first_bytes}"
    );
    // Each replay was counted, once.
    let replays: u64 = redis::cmd("HGET")
        .arg(app.session_key(&sessions[0]))
        .arg("replays")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(replays, 1);
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

async fn open(app: &TestApp) -> String {
    let session = app.open("lucia", "mx_employment", "ios").await;
    session["session_id"].as_str().unwrap().to_owned()
}

/// Session reads Redis has run so far: a status read's `HGETALL`, the scripts' `HMGET`s.
async fn session_reads(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    let calls = |command: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|v| v.split(',').next()?.parse().ok())
            .unwrap_or(0)
    };
    calls("hgetall") + calls("hmget")
}

#[tokio::test]
async fn long_polls_of_one_session_woken_together_read_it_once() {
    const WAITERS: u64 = 10;
    let redis = OwnRedis::start();
    let (app, mut conn) = app_on_own_redis(&redis).await;
    let (first, alone, watched) = (open(&app).await, open(&app).await, open(&app).await);
    app.callback(&first, "exit", "").await; // loads the script
                                            // What an exit callback reads by itself, with nobody waiting.
    let before = session_reads(&mut conn).await;
    let response = app.callback(&alone, "exit", "").await;
    assert_eq!(response.status(), 302);
    let callback_reads = session_reads(&mut conn).await - before;

    let before = session_reads(&mut conn).await;
    let polls: Vec<_> = (0..WAITERS)
        .map(|_| {
            let request = app
                .client
                .get(app.url(&format!("/v1/widget-sessions/{watched}?wait=20")))
                .bearer_auth(app.token("lucia"));
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    // Every poll has made its first read (after starting to watch): all of them now wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    while session_reads(&mut conn).await - before < WAITERS {
        assert!(Instant::now() < deadline, "the polls never all read");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = session_reads(&mut conn).await;
    let response = app.callback(&watched, "exit", "").await;
    assert_eq!(response.status(), 302);
    for poll in polls {
        let response = poll.await.unwrap();
        assert_eq!(response.status(), 200);
        let status: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status["status"], "exited");
    }
    let reads = session_reads(&mut conn).await - before - callback_reads;
    assert_eq!(
        reads, 1,
        "{WAITERS} waiters woken by one change read the session {reads} times"
    );
}

/// Polls on a connection of the test's own until the link's verdict is in and its verification
/// has left the schedule; returns how many polls that took (one read each).
async fn until_verified(
    conn: &mut redis::aio::MultiplexedConnection,
    app: &TestApp,
    session: &str,
    link: &str,
) -> u64 {
    let due = Keys::new(&app.settings.store.key_prefix).due();
    let member = format!("v:{session}:{link}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut polls = 0;
    loop {
        polls += 1;
        let verdict: Option<String> = redis::cmd("HGET")
            .arg(app.link_key(link))
            .arg("verdict")
            .query_async(conn)
            .await
            .unwrap();
        if verdict.as_deref() == Some("1") {
            break;
        }
        assert!(Instant::now() < deadline, "the link was never verified");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loop {
        polls += 1;
        let scheduled: Option<f64> = redis::cmd("ZSCORE")
            .arg(&due)
            .arg(&member)
            .query_async(conn)
            .await
            .unwrap();
        if scheduled.is_none() {
            return polls;
        }
        assert!(
            Instant::now() < deadline,
            "the verification never left the schedule"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends a success callback and waits until its verification is done; returns the polls.
async fn succeed(
    app: &TestApp,
    polling: &mut redis::aio::MultiplexedConnection,
    (id, link, callback): &(String, String, String),
) -> u64 {
    let response = app.client.get(callback).send().await.unwrap();
    assert_eq!(response.status(), 302);
    until_verified(polling, app, id, link).await
}

#[tokio::test]
async fn a_first_success_and_its_verification_are_three_round_trips() {
    let redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url.clone();
        s.links.background_checks = false;
        s.institutions.status_refresh = Duration::from_secs(3600);
        // The emulator's webhooks go nowhere: only the verification writes the link.
        s.emulator.webhook_url = Some("http://127.0.0.1:9/".parse().unwrap());
        s.emulator.webhook_attempts = 1;
    })
    .await;
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut polling = client.get_multiplexed_async_connection().await.unwrap();
    // Success callbacks the emulated widget gave for links it made (Belvo knows them), not sent
    // yet; the first one loads the scripts.
    let mut successes = Vec::new();
    for _ in 0..=N {
        let session = app.open("marta", "mx_employment", "ios").await;
        let id = session["session_id"].as_str().unwrap().to_owned();
        let widget = session["widget_url"].as_str().unwrap();
        let callback = app
            .widget_outcome(widget, "success", "imss_mx_employment")
            .await;
        let link = crate::helpers::param(&callback, "link").unwrap();
        successes.push((id, link, callback));
    }
    let (first, successes) = successes.split_first().unwrap();
    succeed(&app, &mut polling, first).await;
    settled(&mut conn, || async {
        assert_eq!(app.status("marta", &first.0).await["link_verified"], true);
    })
    .await;

    let mut polls = 0;
    let trips = counted(&mut conn, async {
        for success in successes {
            polls += succeed(&app, &mut polling, success).await;
        }
    })
    .await;
    // The test's own polls are not the verification's.
    let trips = trips - polls;
    // The callback; then the verification: its schedule entry with the session's read, and once
    // Belvo has answered, one script for all it writes.
    assert_eq!(
        trips,
        3 * N,
        "{} round trips per first success and its verification",
        trips as f64 / N as f64
    );
    for (id, link, _) in successes {
        let status = app.status("marta", id).await;
        assert_eq!(status["link_verified"], true);
        let listed = app
            .client
            .get(app.url(&format!("/v1/links/{link}")))
            .bearer_auth(app.token("marta"))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200, "a verified link is its owner's");
    }
}
