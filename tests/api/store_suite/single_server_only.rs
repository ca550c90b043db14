use std::time::{Duration, Instant};

use belvo_bff::domain::ids::{LinkId, SessionId};
use belvo_bff::domain::session::{now_millis, AccessToken, Status, WidgetOpening, MAX_EVENTS};
use belvo_bff::domain::webhook::{WebhookApplied, MAX_WEBHOOK_IDS, WEBHOOK_IDS_SLACK};
use belvo_bff::store::{Keys, Links, Sessions};

use crate::helpers::unique_prefix;
use crate::own_redis::OwnRedis;

/// Clients connected to `redis`, as it lists them.
async fn clients(conn: &mut redis::aio::MultiplexedConnection) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(conn)
        .await
        .unwrap();
    list.lines().count()
}

async fn wait_for_clients(conn: &mut redis::aio::MultiplexedConnection, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while clients(conn).await != want {
        assert!(Instant::now() < deadline, "expected {want} clients");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A connection of the test's own to the shared test Redis, to look at what the store wrote.
async fn inspector() -> belvo_bff::store::RedisConnection {
    belvo_bff::store::RedisConnection::single(
        &crate::helpers::test_redis_url(),
        Duration::from_secs(2),
    )
    .await
    .unwrap()
    .0
}

/// A list as stored.
async fn list(conn: &mut belvo_bff::store::RedisConnection, key: String) -> Vec<String> {
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn webhook_ids_stay_out_of_the_link_hash_a_status_read_fetches() {
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let store = super::redis_store_with(&prefix).await;
    let mut conn = inspector().await;
    let link = LinkId::new_random();
    for n in 0..20 {
        let update = super::webhook(&link, &format!("w-{n}"), "u_owner");
        store.record_webhook(&update).await.unwrap();
    }
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(keys.link(&link))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        fields.len() < 6,
        "the link hash holds state only: {fields:?}"
    );
    let ids: usize = redis::cmd("ZCARD")
        .arg(keys.link_webhook_ids(&link))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids, 20);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys.link_webhook_ids(&link))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "the ids expire with their link: {ttl}");

    // A marker an earlier version wrote in the link hash still stops a repeat.
    let _: i64 = redis::cmd("HSET")
        .arg(keys.link(&link))
        .arg("seen:from-before")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let update = super::webhook(&link, "from-before", "u_owner");
    assert_eq!(
        store.record_webhook(&update).await.unwrap(),
        WebhookApplied::Duplicate
    );
    // Without being added to the ids it keeps now.
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(keys.link_webhook_ids(&link))
        .arg("from-before")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(score, None);
}

/// A link written before its webhooks kept their marks in the link hash (`webhook_keys`: a full
/// timeline, ids at the bound) is bounded the same: a repeat of a remembered id writes
/// nothing, the timeline keeps its first entries, and the ids are counted and trimmed back to
/// the latest `MAX_WEBHOOK_IDS` once past the slack.
#[tokio::test]
async fn a_link_from_before_the_webhook_marks_keeps_its_bounds() {
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let store = super::redis_store_with(&prefix).await;
    let mut conn = inspector().await;
    let link = LinkId::new_random();
    let start = now_millis() - 86_400_000;
    let old = |n: usize| format!("old-{n}");
    let entries: Vec<String> = (0..MAX_EVENTS as usize)
        .map(|n| serde_json::json!({"kind": "webhook", "webhook_id": old(n)}).to_string())
        .collect();
    let mut earlier = redis::pipe();
    earlier
        .hset(keys.link(&link), "webhook_at", start)
        .hset(keys.link(&link), "webhook_external_id", "u_owner")
        .rpush(keys.link_timeline(&link), &entries);
    for n in 0..MAX_WEBHOOK_IDS {
        earlier.zadd(keys.link_webhook_ids(&link), old(n), start + n as i64);
    }
    for key in [
        keys.link(&link),
        keys.link_timeline(&link),
        keys.link_webhook_ids(&link),
    ] {
        earlier.pexpire(key, 3_600_000);
    }
    let _: () = earlier.query_async(&mut conn).await.unwrap();

    let delivery = |id: &str| super::webhook(&link, id, "u_owner");
    assert_eq!(
        store.record_webhook(&delivery(&old(999))).await.unwrap(),
        WebhookApplied::Duplicate
    );
    for n in 0..=WEBHOOK_IDS_SLACK {
        let applied = store
            .record_webhook(&delivery(&format!("new-{n}")))
            .await
            .unwrap();
        assert!(
            matches!(applied, WebhookApplied::Recorded { .. }),
            "{n}: {applied:?}"
        );
    }
    assert_eq!(list(&mut conn, keys.link_timeline(&link)).await, entries);
    let ids: usize = redis::cmd("ZCARD")
        .arg(keys.link_webhook_ids(&link))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids, MAX_WEBHOOK_IDS, "trimmed back once past the slack");
    assert_eq!(
        store.record_webhook(&delivery("new-0")).await.unwrap(),
        WebhookApplied::Duplicate
    );
    let oldest = store.record_webhook(&delivery(&old(0))).await.unwrap();
    assert!(
        matches!(oldest, WebhookApplied::Recorded { .. }),
        "{oldest:?}"
    );
}

/// The scripts get whole timeline entries and store each as it always was: the entry's JSON
/// with `"effect"` added as its last field, so lists written before and after read alike.
#[tokio::test]
async fn timeline_entries_are_stored_with_their_effect_as_the_last_field() {
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let store = super::redis_store_with(&prefix).await;
    let mut conn = inspector().await;
    let with_effect = |entry: &serde_json::Value, effect: &str| {
        let entry = entry.to_string();
        format!("{},\"effect\":\"{effect}\"}}", &entry[..entry.len() - 1])
    };

    let session = super::new_session(60_000);
    store.create_session(&session).await.unwrap();
    let success = super::success();
    store.apply(&session.id, &success).await.unwrap();
    assert_eq!(
        list(&mut conn, keys.timeline(&session.id)).await,
        [with_effect(&success.timeline_entry, "applied")]
    );

    let link = LinkId::new_random();
    let update = super::webhook(&link, "w-1", "u_owner");
    store.record_webhook(&update).await.unwrap();
    assert_eq!(
        list(&mut conn, keys.link_timeline(&link)).await,
        [with_effect(&update.timeline_entry, "applied")]
    );
}

/// A session written before the widget token had a key of its own (the token a field of the
/// hash, as were `updated_at` and `mode`) reads the same after an upgrade: `/w/` opens with its
/// token, a replica waiting on a renewal reads it, and a renewal moves it to its key.
#[tokio::test]
async fn a_session_written_with_its_token_in_the_hash_keeps_it_after_an_upgrade() {
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let store = super::redis_store_with(&prefix).await;
    let mut conn = inspector().await;
    let session = super::new_session(60_000);
    let now = now_millis();
    let (id, created, expires) = (
        session.id.to_string(),
        now.to_string(),
        (now + 600_000).to_string(),
    );
    let deadline = (now + 60_000).to_string();
    let old_layout: [(&str, &str); 15] = [
        ("id", &id),
        ("owner", "u_owner"),
        ("product", "mx_employment"),
        ("platform", "android"),
        ("institutions", "imss_mx_employment,issste_mx_employment"),
        ("access_mode", "single"),
        ("created_at", &created),
        ("token_expires_at", &expires),
        ("deadline", &deadline),
        ("status", "pending"),
        ("updated_at", &created),
        ("event_count", "0"),
        ("warnings", "[]"),
        ("mode", "connect"),
        ("token", "token-from-before"),
    ];
    let hash = keys.session(&session.id);
    let _: () = redis::cmd("HSET")
        .arg(&hash)
        .arg(&old_layout[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&hash)
        .arg(3_600_000)
        .query_async(&mut conn)
        .await
        .unwrap();

    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(
        (read.stored_status, read.updated_at),
        (Status::Pending, now)
    );
    let WidgetOpening::Open(opened) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("a pending session opens");
    };
    let before = AccessToken("token-from-before".into());
    assert_eq!(opened.record.token.as_ref(), Some(&before));
    assert_eq!(
        store.current_token(&session.id).await.unwrap(),
        Some((before, now + 600_000))
    );

    let renewed = AccessToken("renewed-token".into());
    store
        .store_token(&session.id, &renewed, now + 600_000)
        .await
        .unwrap();
    let field: Option<String> = redis::cmd("HGET")
        .arg(&hash)
        .arg("token")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(field, None, "the renewal moved the token to its key");
    let key: Option<String> = redis::cmd("GET")
        .arg(keys.widget_token(&session.id))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(key.as_deref(), Some("renewed-token"));
    let WidgetOpening::Open(reopened) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("opens");
    };
    assert_eq!(reopened.record.token, Some(renewed));
}

/// A token key written before tokens were kept compact holds the token's text: `/w/` opens with
/// it and a replica waiting on a renewal reads it, both exactly; a renewal keeps the new token
/// compact, in less than half its text's bytes.
#[tokio::test]
async fn a_token_key_holding_the_text_as_before_reads_the_same_token() {
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let store = super::redis_store_with(&prefix).await;
    let mut conn = inspector().await;
    let session = super::new_session(60_000);
    store.create_session(&session).await.unwrap();
    let token_key = keys.widget_token(&session.id);
    let get = |key: String| redis::cmd("GET").arg(key).to_owned();
    let compact: Vec<u8> = get(token_key.clone()).query_async(&mut conn).await.unwrap();
    let before = session.token.clone().unwrap();
    assert!(
        compact.len() * 2 < before.0.len(),
        "{} bytes",
        compact.len()
    );

    // As the version before wrote it.
    let _: () = redis::cmd("SET")
        .arg(&token_key)
        .arg(&before.0)
        .arg("PX")
        .arg(600_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    let now = now_millis();
    let WidgetOpening::Open(opened) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("a pending session opens");
    };
    assert_eq!(opened.record.token.as_ref(), Some(&before));
    assert_eq!(
        store.current_token(&session.id).await.unwrap(),
        Some((before.clone(), session.token_expires_at))
    );

    let renewed = super::widget_token("3f1e2d3c4b5a69788796a5b4c3d2e1f0");
    store
        .store_token(&session.id, &renewed, now + 600_000)
        .await
        .unwrap();
    let kept: Vec<u8> = get(token_key).query_async(&mut conn).await.unwrap();
    assert!(kept.len() * 2 < renewed.0.len(), "{} bytes", kept.len());
    let WidgetOpening::Open(reopened) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("opens");
    };
    assert_eq!(reopened.record.token, Some(renewed.clone()));
    assert_eq!(
        store.current_token(&session.id).await.unwrap(),
        Some((renewed, now + 600_000))
    );
}

#[tokio::test]
async fn each_single_threaded_runtime_sends_on_a_connection_of_its_own() {
    let redis = OwnRedis::start();
    let store =
        crate::helpers::redis_store_on(&redis.url(), &unique_prefix(), Duration::from_secs(600))
            .await;
    let mut inspector = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // The shared command connection, two subscriptions (sessions, branding), this one.
    wait_for_clients(&mut inspector, 4).await;

    // This test's runtime (single-threaded) gets its own on its first command, and the
    // commands meanwhile are answered on the shared one.
    let unknown = SessionId::generate();
    assert!(store.session(&unknown).await.unwrap().is_none());
    wait_for_clients(&mut inspector, 5).await;
    assert!(store.session(&unknown).await.unwrap().is_none());
    assert_eq!(clients(&mut inspector).await, 5, "made once per runtime");

    // As does another one, on another thread (as each actix-web worker does).
    let other = store.clone();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            while stopped.try_recv().is_err() {
                assert!(other.session(&unknown).await.unwrap().is_none());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    });
    wait_for_clients(&mut inspector, 6).await;
    stop.send(()).unwrap();
    worker.join().unwrap();
    // Its runtime is gone, and its connection with it.
    wait_for_clients(&mut inspector, 5).await;
}
