//! The outbox (SPEC §13) on every store: events written with terminal changes only, handed out
//! once per group, claimed back when due, acknowledged, dead, trimmed; on Redis, from the stream
//! of each session's shard.

use std::time::Duration;

use belvo_bff::domain::callback::CallbackKind;
use belvo_bff::domain::session::{Applied, NewSession};
use belvo_bff::domain::shard::Shard;
use belvo_bff::store::DynStore;

use super::{event, new_session};

async fn terminal_changes_write_one_event_each_and_groups_hand_them_out_once(store: DynStore) {
    let group = "ep-suite";
    store.outbox_join(group).await.unwrap();
    store.outbox_join(group).await.unwrap();
    let emitting = |kind, query| {
        let mut t = event(kind, query);
        t.emit = true;
        t
    };
    let exited = new_session(60_000);
    store.create_session(&exited).await.unwrap();
    let exit = emitting(CallbackKind::Exit, "meta_data_step=abandon");
    let applied = store.apply(&exited.id, &exit).await.unwrap();
    assert!(matches!(applied, Applied::Recorded { changed: true, .. }));
    // A replay and a later event that changes nothing write no event.
    store.apply(&exited.id, &exit).await.unwrap();
    let late = emitting(CallbackKind::Event, "error=login_error");
    store.apply(&exited.id, &late).await.unwrap();
    // In the shard of the first, so that one stream holds both (trimmed below).
    let failed = loop {
        let candidate = new_session(60_000);
        if Shard::of_session(&candidate.id) == Shard::of_session(&exited.id) {
            break candidate;
        }
    };
    store.create_session(&failed).await.unwrap();
    store
        .apply(
            &failed.id,
            &emitting(CallbackKind::Event, "error=login_error"),
        )
        .await
        .unwrap();
    // Without the flag (no endpoint configured) nothing is written.
    let quiet = new_session(60_000);
    store.create_session(&quiet).await.unwrap();
    store
        .apply(&quiet.id, &event(CallbackKind::Exit, "meta_data_step=x"))
        .await
        .unwrap();

    let first_written = store.outbox_oldest_undelivered(group).await.unwrap();
    assert!(first_written.is_some_and(|at| at >= exited.created_at));
    let read = store.outbox_read(group, "one", 10).await.unwrap();
    // `<ms>-<n>`, after the stream's name on Redis (`sh07-<ms>-<n>`).
    let at = |id: &str| id.rsplit('-').nth(1).unwrap().parse::<i64>().unwrap();
    assert_eq!(first_written, Some(at(&read[0].id)));
    assert_eq!(
        store.outbox_oldest_undelivered(group).await.unwrap(),
        first_written,
        "held counts as undelivered"
    );
    assert_eq!(read.len(), 2, "{read:#?}");
    assert_eq!(read[0].fields["type"], "session.exited");
    assert_eq!(read[0].fields["session_id"], exited.id.to_string());
    assert_eq!(read[0].fields["external_id"], "u_owner");
    assert_eq!(read[0].fields["product"], "mx_employment");
    assert_eq!(read[0].fields["sequence"], "1");
    assert_eq!(read[0].fields["reason"], "");
    assert_eq!(read[1].fields["type"], "session.failed");
    assert_eq!(read[1].fields["reason"], "login_error");
    assert!(read.iter().all(|e| e.deliveries == 1));
    assert!(store
        .outbox_read(group, "two", 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.outbox_undelivered(group).await.unwrap(), 2);

    // Not due yet: nobody takes them; due: another consumer takes both, counting the attempt.
    let never = |_: u64| Duration::from_secs(3600);
    let none = store
        .outbox_claim_due(group, "two", 10, Duration::ZERO, &never)
        .await
        .unwrap();
    assert!(none.is_empty());
    let now = |_: u64| Duration::ZERO;
    let taken = store
        .outbox_claim_due(group, "two", 10, Duration::ZERO, &now)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    assert!(taken.iter().all(|e| e.deliveries == 2), "{taken:#?}");
    assert_eq!(taken[0].id, read[0].id);
    // `min_idle` holds even when the entry is due.
    let held = store
        .outbox_claim_due(group, "three", 10, Duration::from_secs(3600), &now)
        .await
        .unwrap();
    assert!(held.is_empty());

    store
        .outbox_retry_later(group, "two", &taken[0].id)
        .await
        .unwrap();
    store.outbox_ack(group, &taken[0].id).await.unwrap();
    store
        .outbox_dead(group, &taken[1], "HTTP 500")
        .await
        .unwrap();
    assert_eq!(store.outbox_undelivered(group).await.unwrap(), 0);
    assert_eq!(store.outbox_oldest_undelivered(group).await.unwrap(), None);
    let dead = store.outbox_dead_entries().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["answer"], "HTTP 500");
    assert_eq!(dead[0]["group"], group);
    assert_eq!(dead[0]["event_id"], taken[1].id);
    assert_eq!(dead[0]["attempts"], "2");
    assert_eq!(dead[0]["session_id"], failed.id.to_string());
    // Both delivered (or dead): the older one goes.
    assert_eq!(store.outbox_trim(&[group.to_owned()]).await.unwrap(), 1);
    assert!(store
        .outbox_claim_due(group, "two", 10, Duration::ZERO, &now)
        .await
        .unwrap()
        .is_empty());
}

async fn events_of_every_shard_are_handed_out_once_each(store: DynStore) {
    let group = "ep-shards";
    store.outbox_join(group).await.unwrap();
    let mut sessions: Vec<NewSession> = Vec::new();
    let mut shards = std::collections::BTreeSet::new();
    while shards.len() < usize::from(Shard::COUNT) || sessions.len() < 40 {
        let session = new_session(60_000);
        shards.insert(Shard::of_session(&session.id));
        sessions.push(session);
    }
    for session in &sessions {
        store.create_session(session).await.unwrap();
        let mut exit = event(CallbackKind::Exit, "meta_data_step=abandon");
        exit.emit = true;
        store.apply(&session.id, &exit).await.unwrap();
    }
    assert_eq!(
        store.outbox_undelivered(group).await.unwrap(),
        sessions.len() as u64
    );
    // Two consumers of one group (two replicas) share them: each event goes to one.
    let mut read = store.outbox_read(group, "one", 4).await.unwrap();
    read.extend(store.outbox_read(group, "two", 1_000).await.unwrap());
    assert!(store
        .outbox_read(group, "one", 1_000)
        .await
        .unwrap()
        .is_empty());
    let mut written: Vec<String> = sessions.iter().map(|s| s.id.to_string()).collect();
    let mut handed: Vec<String> = read
        .iter()
        .map(|e| e.fields["session_id"].clone())
        .collect();
    written.sort();
    handed.sort();
    assert_eq!(handed, written, "each event once");
    let ids: std::collections::BTreeSet<&str> = read.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), read.len(), "event ids are unique across shards");
    // Another endpoint's group gets every event too.
    store.outbox_join("ep-other").await.unwrap();
    let other = store.outbox_read("ep-other", "one", 1_000).await.unwrap();
    assert_eq!(other.len(), sessions.len());

    store
        .outbox_dead(group, &read[0], "HTTP 410")
        .await
        .unwrap();
    for entry in &read[1..] {
        store.outbox_ack(group, &entry.id).await.unwrap();
    }
    assert_eq!(store.outbox_undelivered(group).await.unwrap(), 0);
    let dead = store.outbox_dead_entries().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["event_id"], read[0].id);
    let now = |_: u64| Duration::ZERO;
    assert!(store
        .outbox_claim_due(group, "two", 1_000, Duration::ZERO, &now)
        .await
        .unwrap()
        .is_empty());
    // The other endpoint's held events are all claimable again.
    let again = store
        .outbox_claim_due("ep-other", "two", 1_000, Duration::ZERO, &now)
        .await
        .unwrap();
    assert_eq!(again.len(), sessions.len());
}

mod memory {
    #[tokio::test]
    async fn events_of_every_shard_are_handed_out_once_each() {
        let store = super::super::memory_store(std::time::Duration::from_secs(600).into());
        super::events_of_every_shard_are_handed_out_once_each(store).await;
    }

    #[tokio::test]
    async fn terminal_changes_write_one_event_each_and_groups_hand_them_out_once() {
        let store = super::super::memory_store(std::time::Duration::from_secs(600).into());
        super::terminal_changes_write_one_event_each_and_groups_hand_them_out_once(store).await;
    }
}

mod redis {
    #[tokio::test]
    async fn events_of_every_shard_are_handed_out_once_each() {
        let store = super::super::redis_store(std::time::Duration::from_secs(600).into()).await;
        super::events_of_every_shard_are_handed_out_once_each(store).await;
    }

    #[tokio::test]
    async fn terminal_changes_write_one_event_each_and_groups_hand_them_out_once() {
        let store = super::super::redis_store(std::time::Duration::from_secs(600).into()).await;
        super::terminal_changes_write_one_event_each_and_groups_hand_them_out_once(store).await;
    }
}

mod cluster {
    #[tokio::test]
    async fn terminal_changes_write_one_event_each_and_groups_hand_them_out_once() {
        let store = super::super::cluster_store(std::time::Duration::from_secs(600).into()).await;
        super::terminal_changes_write_one_event_each_and_groups_hand_them_out_once(store).await;
    }

    #[tokio::test]
    async fn events_of_every_shard_are_handed_out_once_each() {
        let store = super::super::cluster_store(std::time::Duration::from_secs(600).into()).await;
        super::events_of_every_shard_are_handed_out_once_each(store).await;
    }
}
