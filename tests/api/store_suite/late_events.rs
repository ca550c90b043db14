//! The Redis store's finished-session hints (docs/store.md): a new callback event on a session
//! the process saw finished (a second success with another link, an exit after a success) is
//! recorded in the timeline alone by `late_event.lua`, stored exactly as a process without the
//! hint stores it with `apply_event.lua`, while sending Redis a fraction of the bytes.

use std::collections::HashMap;
use std::time::Duration;

use belvo_bff::domain::callback::CallbackKind;
use belvo_bff::domain::ids::SessionId;
use belvo_bff::domain::session::{Applied, Status};
use belvo_bff::store::{Keys, Sessions};

use super::{event, new_session, success};
use crate::helpers::{redis_store_on, unique_prefix};
use crate::own_redis::{info_stat, OwnRedis};

const LATER: &str = "link=0b1c6a4e-2f4d-4c43-9a57-6f5f0e1f3a21&institution=imss_mx_employment";

#[tokio::test]
async fn a_new_event_on_a_finished_session_is_stored_as_the_full_script_stores_it_sending_less() {
    let redis = OwnRedis::start();
    let prefix = unique_prefix();
    let ttl = Duration::from_secs(3600);
    // The process that saw the sessions finish, and another (a replica: no hints).
    let saw = redis_store_on(&redis.url(), &prefix, ttl).await;
    let other = redis_store_on(&redis.url(), &prefix, ttl).await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // Loads both scripts, so neither arrival below is measured with its source.
    let (warm_saw, warm_other) = (finished(&saw).await, finished(&saw).await);
    saw.apply(&warm_saw, &event(CallbackKind::Success, LATER))
        .await
        .unwrap();
    other
        .apply(&warm_other, &event(CallbackKind::Success, LATER))
        .await
        .unwrap();

    let (lean, full) = (finished(&saw).await, finished(&saw).await);
    // One event, applied to both: the same fingerprint, time and timeline entry.
    let later = event(CallbackKind::Success, LATER);
    let keys = Keys::new(&prefix);
    let (lean_before, full_before) = (
        hash(&mut conn, &keys, lean).await,
        hash(&mut conn, &keys, full).await,
    );
    let before = info_stat(&mut conn, "total_net_input_bytes").await;
    let by_hint = saw.apply(&lean, &later).await.unwrap();
    let lean_bytes = info_stat(&mut conn, "total_net_input_bytes").await - before;
    let before = info_stat(&mut conn, "total_net_input_bytes").await;
    let without = other.apply(&full, &later).await.unwrap();
    let full_bytes = info_stat(&mut conn, "total_net_input_bytes").await - before;

    let ignored = Applied::Recorded {
        status: Status::Succeeded,
        platform: belvo_bff::domain::ids::Platform::Android,
        changed: false,
    };
    assert_eq!(by_hint, ignored);
    assert_eq!(without, ignored);
    let timeline = |id: SessionId| {
        let mut conn = conn.clone();
        let key = keys.timeline(&id);
        async move {
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async::<Vec<String>>(&mut conn)
                .await
                .unwrap()
        }
    };
    let (lean_timeline, full_timeline) = (timeline(lean).await, timeline(full).await);
    assert_eq!(lean_timeline.len(), 2, "{lean_timeline:?}");
    assert_eq!(full_timeline.len(), 2, "{full_timeline:?}");
    // The later event's entry, byte for byte (the first successes' differ in time).
    assert_eq!(lean_timeline[1], full_timeline[1]);
    assert!(lean_timeline[1].ends_with(r#","effect":"ignored"}"#));
    // What the event wrote on each session hash is the same too.
    let wrote = diff(&lean_before, &hash(&mut conn, &keys, lean).await);
    assert!(
        wrote.iter().any(|(field, _)| field == "event_count"),
        "{wrote:?}"
    );
    assert_eq!(
        wrote,
        diff(&full_before, &hash(&mut conn, &keys, full).await)
    );
    // The timeline entry (about 200 bytes here) goes either way; some 30 arguments do not.
    assert!(
        lean_bytes * 3 < full_bytes * 2,
        "the later event sent {lean_bytes} bytes with the hint, {full_bytes} without"
    );

    // Its replay is counted once, as a replay.
    let replay = saw.apply(&lean, &later).await.unwrap();
    assert!(
        matches!(
            replay,
            Applied::Replay {
                status: Status::Succeeded,
                ..
            }
        ),
        "{replay:?}"
    );
    let replays: u64 = redis::cmd("HGET")
        .arg(keys.session(&lean))
        .arg("replays")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(replays, 1);

    // A hint outliving its session writes nothing: the session reads unknown, as without one.
    let _: () = redis::cmd("DEL")
        .arg(keys.session(&lean))
        .arg(keys.timeline(&lean))
        .query_async(&mut conn)
        .await
        .unwrap();
    let gone = saw
        .apply(
            &lean,
            &event(CallbackKind::Exit, "meta_data_step=abandon-survey"),
        )
        .await
        .unwrap();
    assert_eq!(gone, Applied::Missing);
    let left: u64 = redis::cmd("EXISTS")
        .arg(keys.session(&lean))
        .arg(keys.timeline(&lean))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "nothing recreated");
}

/// A new session, finished by a success through `store`.
async fn finished(store: &belvo_bff::store::RedisStore) -> SessionId {
    let session = new_session(600_000);
    store.create_session(&session).await.unwrap();
    let first = store.apply(&session.id, &success()).await.unwrap();
    assert!(matches!(first, Applied::Recorded { changed: true, .. }));
    session.id
}

async fn hash(
    conn: &mut redis::aio::MultiplexedConnection,
    keys: &Keys,
    id: SessionId,
) -> HashMap<String, String> {
    redis::cmd("HGETALL")
        .arg(keys.session(&id))
        .query_async(conn)
        .await
        .unwrap()
}

/// The fields `after` adds or changes, sorted.
fn diff(
    before: &HashMap<String, String>,
    after: &HashMap<String, String>,
) -> Vec<(String, String)> {
    let mut changed: Vec<_> = after
        .iter()
        .filter(|(field, value)| before.get(*field) != Some(value))
        .map(|(field, value)| (field.clone(), value.clone()))
        .collect();
    changed.sort();
    changed
}
