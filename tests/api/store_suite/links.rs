//! Links, webhooks and resources, on every store.

use super::*;
use belvo_bff::domain::session::MAX_EVENTS;
use belvo_bff::domain::shard::Shard;

async fn sessions_and_links_are_indexed_by_user(store: DynStore) {
    let owner = ExternalId::parse(&format!("u_{}", uuid::Uuid::new_v4().simple())).unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut session = new_session(60_000);
        session.owner = owner.clone();
        session.created_at += i;
        store.create_session(&session).await.unwrap();
        ids.push(session.id);
    }
    ids.reverse();
    assert_eq!(
        store.user_sessions(&owner, 10).await.unwrap(),
        ids,
        "newest first"
    );
    assert_eq!(store.user_sessions(&owner, 2).await.unwrap(), ids[..2]);

    let link = LinkId::new_random();
    let claim = |owner: &ExternalId| LinkClaim {
        owner: owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&link, &claim(&owner)).await.unwrap());
    let someone = ExternalId::parse("u_someone").unwrap();
    assert!(!store.claim_link(&link, &claim(&someone)).await.unwrap());
    assert_eq!(store.user_links(&owner).await.unwrap(), vec![link]);
    assert!(store.user_links(&someone).await.unwrap().is_empty());
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.owner, Some(owner), "the first claim owns the link");
    assert_eq!(state.verified, Some(true));
    assert_eq!(state.institution.as_deref(), Some("imss_mx_employment"));
}

async fn a_webhook_before_or_after_the_success_ends_the_same(store: DynStore) {
    for webhook_first in [true, false] {
        let session = new_session(60_000);
        let link = LinkId::new_random();
        let success = event(
            CallbackKind::Success,
            &format!("link={link}&institution=imss_mx_employment"),
        );
        let update = webhook(&link, &format!("w-{webhook_first}"), "u_owner");
        store.create_session(&session).await.unwrap();
        if webhook_first {
            let applied = store.record_webhook(&update).await.unwrap();
            assert_eq!(
                applied,
                WebhookApplied::Recorded {
                    session: None,
                    consent_open: false
                }
            );
            store.apply(&session.id, &success).await.unwrap();
        } else {
            store.apply(&session.id, &success).await.unwrap();
            let applied = store.record_webhook(&update).await.unwrap();
            assert_eq!(
                applied,
                WebhookApplied::Recorded {
                    session: Some(session.id),
                    consent_open: false
                }
            );
        }
        assert_eq!(
            store.record_webhook(&update).await.unwrap(),
            WebhookApplied::Duplicate
        );
        let state = store.link(&link).await.unwrap().unwrap();
        assert_eq!(
            state.session,
            Some(session.id),
            "webhook first: {webhook_first}"
        );
        assert_eq!(state.owner, Some(session.owner.clone()));
        assert_eq!(state.resources["EMPLOYMENT_RECORDS"].total, Some(2));
        assert!(state.external_id_consistent());
        assert_eq!(store.link_timeline(&link).await.unwrap().len(), 1);
    }
}

async fn a_session_is_read_with_its_link_as_it_is_now(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    assert!(store
        .session_with_link(&SessionId::generate())
        .await
        .unwrap()
        .is_none());
    let read = store.session_with_link(&session.id).await.unwrap().unwrap();
    let token = None; // never read back but by `/w/`
    assert_eq!(
        read.session.record,
        NewSession {
            token,
            ..session.clone()
        }
    );
    assert_eq!(read.link, None);

    let link = LinkId::new_random();
    let success = event(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    store.apply(&session.id, &success).await.unwrap();
    // Read repeatedly, with webhooks in between: every read shows the link as it is then.
    for n in 0..3u64 {
        let read = store.session_with_link(&session.id).await.unwrap().unwrap();
        assert_eq!(read.session.stored_status, Status::Succeeded);
        assert_eq!(read.session.link_id, Some(link));
        let state = read.link.expect("the link is read with its session");
        assert_eq!(state.session, Some(session.id));
        let total = state
            .resources
            .get("EMPLOYMENT_RECORDS")
            .and_then(|r| r.total);
        assert_eq!(total, (n > 0).then_some(n + 1), "after {n} webhooks");
        let mut update = webhook(&link, &format!("w-{n}"), "u_owner");
        update.resource.as_mut().unwrap().1.total = Some(n + 2);
        store.record_webhook(&update).await.unwrap();
    }
}

async fn a_link_remembers_its_latest_webhook_ids(store: DynStore) {
    let link = LinkId::new_random();
    // A millisecond apart: ids are kept in the order of their time.
    let start = now_millis();
    let delivery = |n: usize| {
        let mut update = webhook(&link, &format!("w-{n}"), "u_owner");
        update.now = start + n as i64;
        update
    };
    let recorded = WebhookApplied::Recorded {
        session: None,
        consent_open: false,
    };
    // One more than a store may hold: at least the latest `MAX_WEBHOOK_IDS`, and the oldest
    // dropped in a batch once `WEBHOOK_IDS_SLACK` more came.
    let most = MAX_WEBHOOK_IDS + WEBHOOK_IDS_SLACK;
    for n in 0..=most {
        let applied = store.record_webhook(&delivery(n)).await.unwrap();
        assert_eq!(applied, recorded, "delivery {n}");
        if n == MAX_WEBHOOK_IDS {
            // Past the bound, within the slack: the oldest is still known (a repeat writes
            // nothing).
            let repeat = store.record_webhook(&delivery(0)).await.unwrap();
            assert_eq!(repeat, WebhookApplied::Duplicate, "within the slack");
        }
    }
    // The timeline keeps the first `MAX_EVENTS` deliveries; later ones still count.
    let timeline = store.link_timeline(&link).await.unwrap();
    assert_eq!(timeline.len(), MAX_EVENTS as usize);
    assert_eq!(
        timeline.last().unwrap()["webhook_id"],
        format!("w-{}", MAX_EVENTS - 1)
    );
    // A repeat of a recent delivery changes nothing, nor one of the oldest of the latest
    // `MAX_WEBHOOK_IDS`.
    for n in [most, most + 1 - MAX_WEBHOOK_IDS] {
        let repeat = store.record_webhook(&delivery(n)).await.unwrap();
        assert_eq!(repeat, WebhookApplied::Duplicate, "delivery {n} again");
    }
    // The ones before are past the bound: forgotten, so its memory does not grow with the
    // link's age.
    for n in [0, most - MAX_WEBHOOK_IDS] {
        let oldest = store.record_webhook(&delivery(n)).await.unwrap();
        assert_eq!(oldest, recorded, "delivery {n} again");
    }
}

async fn the_first_session_to_report_a_link_owns_it(store: DynStore) {
    let (first, second) = (new_session(60_000), new_session(60_000));
    let link = LinkId::new_random();
    let success = event(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    // Subscribed first, so each announcement can be waited for and none is mistaken for a
    // later one.
    let mut changes = store.subscribe();
    until_subscribed(&store, &mut changes).await;
    for session in [&first, &second] {
        store.create_session(session).await.unwrap();
        store.apply(&session.id, &success).await.unwrap();
        assert!(
            announced(&mut changes, session.id).await,
            "the success is announced"
        );
    }
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.session, Some(first.id));
    // Only the owning session's verification counts.
    store
        .set_link_verified(&link, &second.id, true)
        .await
        .unwrap();
    assert_eq!(store.link(&link).await.unwrap().unwrap().verified, None);
    store
        .set_link_verified(&link, &first.id, true)
        .await
        .unwrap();
    assert_eq!(
        store.link(&link).await.unwrap().unwrap().verified,
        Some(true)
    );
    // Every earlier announcement was taken above: this one is the verification's.
    assert!(
        announced(&mut changes, first.id).await,
        "verification announced"
    );
}

async fn a_success_never_takes_a_link_from_its_owner(store: DynStore) {
    let owner_a = ExternalId::parse(&format!("u_a{}", uuid::Uuid::new_v4().simple())).unwrap();
    let owner_b = ExternalId::parse(&format!("u_b{}", uuid::Uuid::new_v4().simple())).unwrap();
    let of = |owner: &ExternalId| {
        let mut session = new_session(60_000);
        session.owner = owner.clone();
        session
    };
    // A's link made through the API flow (no session), then one through A's widget session.
    let (api_link, widget_link) = (LinkId::new_random(), LinkId::new_random());
    let claim = LinkClaim {
        owner: owner_a.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&api_link, &claim).await.unwrap());
    let a_session = of(&owner_a);
    store.create_session(&a_session).await.unwrap();
    let success = |link: &LinkId| {
        event(
            CallbackKind::Success,
            &format!("link={link}&institution=imss_mx_employment"),
        )
    };
    store
        .apply(&a_session.id, &success(&widget_link))
        .await
        .unwrap();

    for link in [api_link, widget_link] {
        let b_session = of(&owner_b);
        store.create_session(&b_session).await.unwrap();
        let applied = store.apply(&b_session.id, &success(&link)).await.unwrap();
        assert!(
            matches!(
                applied,
                Applied::Recorded {
                    status: Status::Failed,
                    changed: true,
                    ..
                }
            ),
            "{applied:?}"
        );
        let read = store.session(&b_session.id).await.unwrap().unwrap();
        assert_eq!(read.stored_status, Status::Failed);
        assert_eq!(read.link_id, None, "B's session names no link");
        let error = read.last_error.expect("B's session says why");
        assert_eq!(error.code, LINK_OWNED_ELSEWHERE);
        assert_eq!(error.message.as_deref(), Some(LINK_OWNED_ELSEWHERE_MESSAGE));
        let state = store.link(&link).await.unwrap().unwrap();
        assert_eq!(state.owner.as_ref(), Some(&owner_a), "A keeps the link");
    }
    assert_eq!(store.user_links(&owner_b).await.unwrap(), vec![]);
    assert!(store
        .user_links(&owner_a)
        .await
        .unwrap()
        .contains(&api_link));
    // A's own second session for its link still succeeds.
    let again = of(&owner_a);
    store.create_session(&again).await.unwrap();
    let applied = store.apply(&again.id, &success(&api_link)).await.unwrap();
    assert!(
        matches!(
            applied,
            Applied::Recorded {
                status: Status::Succeeded,
                ..
            }
        ),
        "{applied:?}"
    );
}

async fn a_success_wakes_waiters_once_its_link_is_claimed(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let mut changes = store.subscribe();
    until_subscribed(&store, &mut changes).await;
    store.apply(&session.id, &success()).await.unwrap();
    assert!(
        announced(&mut changes, session.id).await,
        "announced in time"
    );
    // Whoever is woken reads a link that already names its session.
    let link = store.link(&LinkId::parse(LINK).unwrap()).await.unwrap();
    assert_eq!(link.and_then(|l| l.session), Some(session.id));
}

/// Waits (up to 10 s) until the session has expired from the store.
async fn until_session_gone(store: &DynStore, id: &SessionId) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.session(id).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the finished session was kept past its retention"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SPEC §11: a link lives as long as the connection (`links.retention` from its latest
/// activity), not as long as the session that made it (`sessions.retention` after it finished).
async fn links_outlive_their_sessions(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    store.apply(&session.id, &success()).await.unwrap();
    let link = LinkId::parse(LINK).unwrap();
    until_session_gone(&store, &session.id).await;
    assert!(store.timeline(&session.id).await.unwrap().is_empty());
    let kept = store
        .link(&link)
        .await
        .unwrap()
        .expect("the link outlives its session");
    assert_eq!(kept.owner.as_ref(), Some(&session.owner));
    // Verified and reported on later, it keeps everything.
    store
        .record_webhook(&webhook(&link, "w-1", session.owner.as_str()))
        .await
        .unwrap();
    let claim = LinkClaim {
        owner: session.owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&link, &claim).await.unwrap());
    let kept = store.link(&link).await.unwrap().unwrap();
    assert_eq!(kept.owner.as_ref(), Some(&session.owner));
    assert!(!kept.resources.is_empty(), "with what its webhooks said");
    assert_eq!(store.link_timeline(&link).await.unwrap().len(), 1);
    assert_eq!(store.user_links(&session.owner).await.unwrap(), vec![link]);
}

/// A pending session is kept until its deadline and then its retention: support still sees an
/// abandoned attempt after it expired.
async fn an_expired_session_is_kept_for_its_retention(store: DynStore) {
    let session = new_session(300);
    store.create_session(&session).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let read = store
        .session(&session.id)
        .await
        .unwrap()
        .expect("kept after its deadline");
    assert_eq!(read.status_at(now_millis()), Status::Expired);
    until_session_gone(&store, &session.id).await;
}

/// `DELETE /v1/links/{id}`'s store part: only the owner deletes, and everything goes.
async fn a_link_is_deleted_by_its_owner_only(store: DynStore) {
    let owner = ExternalId::parse(&format!("u_{}", uuid::Uuid::new_v4().simple())).unwrap();
    let link = LinkId::new_random();
    let claim = LinkClaim {
        owner: owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&link, &claim).await.unwrap());
    store
        .record_webhook(&webhook(&link, "w-1", owner.as_str()))
        .await
        .unwrap();
    let someone = ExternalId::parse("u_someone").unwrap();
    assert!(!store.delete_link(&link, &someone).await.unwrap());
    assert!(
        store.link(&link).await.unwrap().is_some(),
        "not someone else's to delete"
    );
    assert!(store.delete_link(&link, &owner).await.unwrap());
    assert_eq!(store.link(&link).await.unwrap(), None);
    assert!(store.link_timeline(&link).await.unwrap().is_empty());
    assert!(store.user_links(&owner).await.unwrap().is_empty());
    assert!(
        !store.delete_link(&link, &owner).await.unwrap(),
        "already gone"
    );
    // A webhook replayed after the deletion is a new record, not a duplicate of a deleted one.
    let again = store
        .record_webhook(&webhook(&link, "w-1", owner.as_str()))
        .await
        .unwrap();
    assert!(
        matches!(again, WebhookApplied::Recorded { .. }),
        "{again:?}"
    );
}

/// SPEC §11 reconnect: an update-mode session repairs the link it names from the start; a
/// success naming another link fails it with `link_mismatch` and changes no link.
async fn an_update_session_must_name_the_link_it_repairs(store: DynStore) {
    let link = LinkId::parse(LINK).unwrap();
    let first = new_session(60_000);
    store.create_session(&first).await.unwrap();
    store.apply(&first.id, &success()).await.unwrap();
    let before = store.link(&link).await.unwrap().unwrap();

    let repairing = |update_link| NewSession {
        id: SessionId::generate(),
        mode: SessionMode::Update,
        update_link: Some(update_link),
        ..new_session(60_000)
    };
    let reconnect = repairing(link);
    store.create_session(&reconnect).await.unwrap();
    let read = store.session(&reconnect.id).await.unwrap().unwrap();
    assert_eq!(read.link_id, Some(link), "the link is known from the start");
    assert_eq!(read.record.mode, SessionMode::Update);
    store.apply(&reconnect.id, &success()).await.unwrap();
    let read = store.session(&reconnect.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Succeeded);
    let after = store.link(&link).await.unwrap().unwrap();
    assert_eq!(
        after.session, before.session,
        "the link keeps its first session"
    );
    assert_eq!(after.owner, before.owner);

    let other = LinkId::new_random();
    let wrong = repairing(other);
    store.create_session(&wrong).await.unwrap();
    store.apply(&wrong.id, &success()).await.unwrap();
    let read = store.session(&wrong.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Failed);
    let error = read.last_error.unwrap();
    assert_eq!(error.code, LINK_MISMATCH);
    assert_eq!(error.message.as_deref(), Some(LINK_MISMATCH_MESSAGE));
    assert_eq!(
        read.link_id,
        Some(other),
        "still names the link it was to repair"
    );
    assert_eq!(store.link(&other).await.unwrap(), None, "no link was made");
    assert_eq!(
        store.link(&link).await.unwrap().unwrap().session,
        before.session
    );
}

/// A resource's data on a link whose resources were all ready already is not announced: no
/// waiter can be answered by it (`until=resources` ones were when the last resource arrived)
/// and no event follows it, so Redis spares the `PUBLISH` and every replica the message (issue
/// 19). Data that makes the link ready, and data on a link not ready, are announced.
async fn data_on_a_link_ready_already_is_not_announced(store: DynStore) {
    let (ready, other) = (new_session(60_000), new_session(60_000));
    let (ready_link, other_link) = (LinkId::new_random(), LinkId::new_random());
    // Subscribed first, so each announcement can be waited for.
    let mut changes = store.subscribe();
    until_subscribed(&store, &mut changes).await;
    for (session, link) in [(&ready, ready_link), (&other, other_link)] {
        store.create_session(session).await.unwrap();
        let success = event(
            CallbackKind::Success,
            &format!("link={link}&institution=imss_mx_employment"),
        );
        store.apply(&session.id, &success).await.unwrap();
    }
    // Verified as the session's product: its one fetch resource makes it ready.
    let claim = LinkClaim {
        owner: ready.owner.clone(),
        product: ready.product.clone(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&ready_link, &claim).await.unwrap());
    // Announcements made from one Redis node arrive in order, but on a cluster those of different
    // nodes need not (each node forwards its own). So a fence is a marker session in each shard
    // an announcement may come from (one slot, so one node, each): once every marker is heard,
    // every earlier announcement from those shards has been, and the ones heard meanwhile are
    // returned.
    let fence = async |changes: &mut tokio::sync::broadcast::Receiver<SessionId>,
                       shards: &[Shard]| {
        let mut markers = Vec::new();
        for &shard in shards {
            let marker = loop {
                let marker = new_session(60_000);
                if Shard::of_session(&marker.id) == shard {
                    break marker;
                }
            };
            store.create_session(&marker).await.unwrap();
            let warning = event(CallbackKind::Warning, "warning=fence");
            store.apply(&marker.id, &warning).await.unwrap();
            markers.push(marker.id);
        }
        let mut heard = Vec::new();
        let listen = async {
            while !markers.is_empty() {
                let id = changes.recv().await.unwrap();
                if let Some(at) = markers.iter().position(|m| *m == id) {
                    markers.remove(at);
                } else {
                    heard.push(id);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), listen)
            .await
            .expect("every marker heard within 5 s");
        heard
    };
    let (ready_shard, other_shard) = (Shard::of_link(&ready_link), Shard::of_link(&other_link));
    // What the successes announced so far, from their sessions' shards and their links'.
    fence(
        &mut changes,
        &[
            Shard::of_session(&ready.id),
            Shard::of_session(&other.id),
            ready_shard,
            other_shard,
        ],
    )
    .await;

    store
        .record_webhook(&webhook(&ready_link, "w-ready-1", "u_owner"))
        .await
        .unwrap();
    assert_eq!(
        fence(&mut changes, &[ready_shard]).await,
        [ready.id],
        "the data that makes the link ready is announced"
    );
    let state = store.link(&ready_link).await.unwrap().unwrap();
    assert_eq!(
        state.resources.get("EMPLOYMENT_RECORDS").map(|r| r.status),
        Some(Readiness::Ready)
    );

    // More data on the ready link, then on the other (never ready: no product claimed it).
    let applied = store
        .record_webhook(&webhook(&ready_link, "w-ready-2", "u_owner"))
        .await
        .unwrap();
    assert!(matches!(applied, WebhookApplied::Recorded { .. }));
    store
        .record_webhook(&webhook(&other_link, "w-other-1", "u_owner"))
        .await
        .unwrap();
    assert_eq!(
        fence(&mut changes, &[ready_shard, other_shard]).await,
        [other.id],
        "data on a link ready already is not announced; on one not ready, it is"
    );
}

every_store!(
    an_update_session_must_name_the_link_it_repairs,
    a_link_is_deleted_by_its_owner_only,
    links_outlive_their_sessions with ttl belvo_bff::store::Retention {
        sessions: Duration::from_secs(1),
        links: Duration::from_secs(600),
    },
    an_expired_session_is_kept_for_its_retention with ttl belvo_bff::store::Retention {
        sessions: Duration::from_secs(1),
        links: Duration::from_secs(600),
    },
    sessions_and_links_are_indexed_by_user,
    a_webhook_before_or_after_the_success_ends_the_same,
    a_session_is_read_with_its_link_as_it_is_now,
    a_link_remembers_its_latest_webhook_ids,
    the_first_session_to_report_a_link_owns_it,
    a_success_never_takes_a_link_from_its_owner,
    a_success_wakes_waiters_once_its_link_is_claimed,
);

// A link becomes ready only on stores that know the product's fetch resources.
every_store_with_fetch_resources!(
    with_fetch_resources,
    data_on_a_link_ready_already_is_not_announced
);
