//! Sessions and callbacks, on every store.

use super::*;

async fn round_trips_a_session(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let read = store.session(&session.id).await.unwrap().unwrap();
    // Status reads never load the widget token (only `/w/` does).
    let without_token = NewSession {
        token: None,
        ..session.clone()
    };
    assert_eq!(read.record, without_token);
    assert_eq!((read.opened_at, read.opens), (None, 0));
    assert_eq!(read.stored_status, Status::Pending);
    assert_eq!(read.event_count, 0);
    assert!(store
        .session(&SessionId::generate())
        .await
        .unwrap()
        .is_none());
}

async fn first_terminal_event_wins(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let applied = store.apply(&session.id, &success()).await.unwrap();
    assert_eq!(
        applied,
        Applied::Recorded {
            status: Status::Succeeded,
            platform: Platform::Android,
            changed: true
        }
    );
    let exit = event(
        CallbackKind::Exit,
        "last_encountered_error_code=login_error",
    );
    let applied = store.apply(&session.id, &exit).await.unwrap();
    assert_eq!(
        applied,
        Applied::Recorded {
            status: Status::Succeeded,
            platform: Platform::Android,
            changed: false
        }
    );
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Succeeded);
    assert_eq!(read.link_id, LinkId::parse(LINK).ok());
    assert_eq!(read.last_error, None);
    let timeline = store.timeline(&session.id).await.unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0]["kind"], "success");
    assert_eq!(timeline[0]["effect"], "applied");
    assert_eq!(timeline[1]["kind"], "exit");
    assert_eq!(timeline[1]["effect"], "ignored");
    let link = store
        .link(&LinkId::parse(LINK).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.session, Some(session.id));
    assert_eq!(link.owner, Some(session.owner.clone()));
}

async fn replays_count_once(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let warning = event(CallbackKind::Warning, "warning=institution_disabled");
    assert!(matches!(
        store.apply(&session.id, &warning).await.unwrap(),
        Applied::Recorded { changed: true, .. }
    ));
    for _ in 0..3 {
        assert_eq!(
            store.apply(&session.id, &warning).await.unwrap(),
            Applied::Replay {
                status: Status::Pending,
                platform: Platform::Android
            }
        );
    }
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.warnings.len(), 1);
    assert_eq!(read.replays, 3);
    assert_eq!(store.timeline(&session.id).await.unwrap().len(), 1);
}

async fn concurrent_terminal_events_leave_exactly_one_outcome(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let id = session.id;
        tasks.push(tokio::spawn(async move {
            let t = match i % 3 {
                0 => success(),
                1 => event(CallbackKind::Exit, &format!("meta_data_step=step{i}")),
                _ => event(CallbackKind::Error, &format!("error=code{i}")),
            };
            store.apply(&id, &t).await.unwrap()
        }));
    }
    let mut changed = 0;
    for task in tasks {
        if let Applied::Recorded { changed: true, .. } = task.await.unwrap() {
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "exactly one terminal event applies");
    let timeline = store.timeline(&session.id).await.unwrap();
    assert_eq!(
        timeline.iter().filter(|e| e["effect"] == "applied").count(),
        1
    );
}

async fn missing_and_expired_sessions_record_nothing(store: DynStore) {
    assert_eq!(
        store
            .apply(&SessionId::generate(), &success())
            .await
            .unwrap(),
        Applied::Missing
    );
    let session = new_session(-1);
    store.create_session(&session).await.unwrap();
    assert_eq!(
        store.apply(&session.id, &success()).await.unwrap(),
        Applied::Expired
    );
    assert!(store.timeline(&session.id).await.unwrap().is_empty());
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.status_at(now_millis()), Status::Expired);
}

async fn records_expire_after_their_ttl(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    store.apply(&session.id, &success()).await.unwrap();
    assert!(store.session(&session.id).await.unwrap().is_some());
    let read = store.session_with_link(&session.id).await.unwrap().unwrap();
    assert!(read.link.is_some());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(store.session(&session.id).await.unwrap().is_none());
    // Also when the store remembers which link the session named.
    assert!(store
        .session_with_link(&session.id)
        .await
        .unwrap()
        .is_none());
    assert!(store.timeline(&session.id).await.unwrap().is_empty());
    assert_eq!(
        store.link(&LinkId::parse(LINK).unwrap()).await.unwrap(),
        None
    );
}

async fn changes_are_announced(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let mut changes = store.subscribe();
    // A fresh Redis store subscribes in the background: wait until it hears.
    until_subscribed(&store, &mut changes).await;
    store.apply(&session.id, &success()).await.unwrap();
    assert!(
        announced(&mut changes, session.id).await,
        "announced in time"
    );
}

async fn warnings_are_bounded(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    for i in 0..80 {
        store
            .apply(
                &session.id,
                &event(CallbackKind::Warning, &format!("warning=w{i}")),
            )
            .await
            .unwrap();
    }
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(
        read.warnings.len(),
        belvo_bff::domain::session::MAX_WARNINGS
    );
    assert_eq!(read.stored_status, Status::Pending);
    // A terminal event still applies once the lists are full.
    store.apply(&session.id, &success()).await.unwrap();
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Succeeded);
}

/// `/w/`: each opening of a pending session is counted and brings its token; finished and
/// expired sessions count nothing; a renewal is held by one caller at a time.
async fn the_widget_opens_with_its_token_and_is_counted(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let now = now_millis();
    let WidgetOpening::Open(first) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("a pending session opens");
    };
    assert_eq!(first.record.token, session.token);
    assert_eq!((first.opened_at, first.opens), (Some(now), 1));
    let WidgetOpening::Open(second) = store.open_widget(&session.id, now + 5).await.unwrap() else {
        panic!("and opens again");
    };
    assert_eq!(
        (second.opened_at, second.opens),
        (Some(now), 2),
        "first opening kept"
    );
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!((read.opened_at, read.opens), (Some(now), 2));

    // One renewal at a time; the stored token is what the next opening brings.
    let hold = Duration::from_secs(5);
    assert!(store.begin_renewal(&session.id, hold).await.unwrap());
    assert!(!store.begin_renewal(&session.id, hold).await.unwrap());
    let renewed = widget_token("2f1e2d3c4b5a69788796a5b4c3d2e1f0");
    store
        .store_token(&session.id, &renewed, now + 600_000)
        .await
        .unwrap();
    assert_eq!(
        store.current_token(&session.id).await.unwrap(),
        Some((renewed.clone(), now + 600_000))
    );
    assert!(
        store.begin_renewal(&session.id, hold).await.unwrap(),
        "released"
    );
    store.end_renewal(&session.id).await.unwrap();
    let WidgetOpening::Open(third) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("opens");
    };
    assert_eq!(third.record.token, Some(renewed));
    assert_eq!(third.record.token_expires_at, now + 600_000);

    store.apply(&session.id, &success()).await.unwrap();
    let WidgetOpening::Closed(done) = store.open_widget(&session.id, now).await.unwrap() else {
        panic!("a finished session is closed");
    };
    assert_eq!((done.stored_status, done.opens), (Status::Succeeded, 3));
    assert!(matches!(
        store
            .open_widget(&SessionId::generate(), now)
            .await
            .unwrap(),
        WidgetOpening::Missing
    ));
    let late = new_session(10);
    store.create_session(&late).await.unwrap();
    let past = late.deadline + 1;
    assert!(matches!(
        store.open_widget(&late.id, past).await.unwrap(),
        WidgetOpening::Closed(_)
    ));
}

/// SPEC §11: an expired widget token does not end the session; reopening forgets the event
/// fingerprints so the same error, seen again, is recorded again.
async fn an_expired_token_leaves_the_session_pending(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let expired = event(
        CallbackKind::Event,
        "error=ACCESS_TOKEN_NOT_VALID&error_message=expired",
    );
    let applied = store.apply(&session.id, &expired).await.unwrap();
    assert!(
        matches!(
            applied,
            Applied::Recorded {
                status: Status::Pending,
                changed: true,
                ..
            }
        ),
        "{applied:?}"
    );
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Pending);
    assert_eq!(read.last_error.unwrap().code, "ACCESS_TOKEN_NOT_VALID");
    assert!(matches!(
        store.apply(&session.id, &expired).await.unwrap(),
        Applied::Replay { .. }
    ));
    store.open_widget(&session.id, now_millis()).await.unwrap();
    let again = store.apply(&session.id, &expired).await.unwrap();
    assert!(matches!(again, Applied::Recorded { .. }), "{again:?}");
    assert_eq!(store.timeline(&session.id).await.unwrap().len(), 2);
    // And the session can still succeed.
    store.apply(&session.id, &success()).await.unwrap();
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Succeeded);
}

every_store!(
    the_widget_opens_with_its_token_and_is_counted,
    an_expired_token_leaves_the_session_pending,
    round_trips_a_session,
    first_terminal_event_wins,
    replays_count_once,
    concurrent_terminal_events_leave_exactly_one_outcome,
    missing_and_expired_sessions_record_nothing,
    records_expire_after_their_ttl with ttl Duration::from_secs(1),
    changes_are_announced,
    warnings_are_bounded,
);
