//! The outbox (SPEC §13) on the memory store and one Redis (a cluster refuses endpoints for
//! now): events written with terminal changes only, handed out once per group, claimed back
//! when due, acknowledged, dead, trimmed.

use std::time::Duration;

use belvo_bff::domain::callback::CallbackKind;
use belvo_bff::domain::session::Applied;
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
    let failed = new_session(60_000);
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
    let at = |id: &str| id.split_once('-').unwrap().0.parse::<i64>().unwrap();
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

mod memory {
    #[tokio::test]
    async fn terminal_changes_write_one_event_each_and_groups_hand_them_out_once() {
        let store = super::super::memory_store(std::time::Duration::from_secs(600).into());
        super::terminal_changes_write_one_event_each_and_groups_hand_them_out_once(store).await;
    }
}

mod redis {
    #[tokio::test]
    async fn terminal_changes_write_one_event_each_and_groups_hand_them_out_once() {
        let store = super::super::redis_store(std::time::Duration::from_secs(600).into()).await;
        super::terminal_changes_write_one_event_each_and_groups_hand_them_out_once(store).await;
    }
}
