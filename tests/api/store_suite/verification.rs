//! A link's verification recorded in one step (SPEC §5, issue 19), on every store: a matched
//! verification claims, lists, repairs, schedules and announces last; a forged one only says so.

use belvo_bff::domain::health::{BelvoRecord, Health, HealthChange, HealthReason};
use belvo_bff::domain::verification::{Matched, Verification};
use belvo_bff::store::{ClaimRules, DueEntry};

use super::step_by_step::{run_until_announced, Ears};
use super::*;

fn take_all() -> ClaimRules {
    ClaimRules {
        batch: 100,
        rate_per_second: 1_000,
        check_every_ms: 86_400_000,
        verify_lease_ms: 60_000,
    }
}

/// A session of an owner of its own that succeeded with a new link, its verification on the
/// schedule (as the callback leaves it), and a subscription to the store's announcements.
async fn succeeded(
    store: &DynStore,
) -> (
    NewSession,
    LinkId,
    tokio::sync::broadcast::Receiver<SessionId>,
) {
    let mut session = new_session(60_000);
    session.owner = ExternalId::parse(&format!("u_v{}", uuid::Uuid::new_v4().simple())).unwrap();
    store.create_session(&session).await.unwrap();
    let link = LinkId::new_random();
    let success = event(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    store.apply(&session.id, &success).await.unwrap();
    // What the callback's task reads, putting the verification on the schedule as it does.
    let read = store
        .verification_session(&session.id, &link, Some(now_millis() + 60_000))
        .await
        .unwrap()
        .expect("the session");
    assert_eq!(read.record.owner, session.owner);
    assert_eq!(read.record.product, session.product);
    assert_eq!(read.record.platform, session.platform);
    assert_eq!(read.record.mode, session.mode);
    assert_eq!(read.institution.as_deref(), Some("imss_mx_employment"));
    let mut changes = store.subscribe();
    until_subscribed(store, &mut changes).await;
    (session, link, changes)
}

fn matched(session: &NewSession, reconnected: bool, first_check_at: i64) -> Matched {
    Matched {
        claim: LinkClaim {
            owner: session.owner.clone(),
            product: session.product.clone(),
            institution: "imss_mx_employment".into(),
            funnel: Some("mx_employment|android|connect|imss_mx_employment|".into()),
        },
        reconnected,
        record: Some(BelvoRecord::Valid),
        first_check_at,
    }
}

/// At the moment its announcement becomes visible to a subscriber (the store's call held right
/// there, before it writes anything more), the link is listed with its health and its checks.
async fn a_verified_link_is_listed_with_its_health_and_checks_before_it_is_announced(
    store: DynStore,
    ears: Option<Ears>,
) {
    let (session, link, changes) = succeeded(&store).await;
    let mut ears = ears.unwrap_or(Ears::Memory(changes));
    // The success's own announcement, made before: not to be taken for the verification's.
    ears.forget_earlier(session.id).await;
    let now = now_millis();
    let first_check_at = now + 3_600_000;
    let verification = Verification {
        link,
        session: session.id,
        matched: Some(matched(&session, false, first_check_at)),
        now,
    };
    // What a woken waiter reads: the link verified, its owner's, with the health Belvo showed;
    // the verification off the schedule, the link's first check on it, at its time.
    let (store_ref, owner, product) = (&store, &session.owner, &session.product);
    let listed = move || async move {
        let store = store_ref;
        let state = store.link(&link).await.unwrap().expect("the link");
        assert_eq!(state.verified, Some(true));
        assert_eq!(state.owner.as_ref(), Some(owner));
        assert_eq!(state.product.as_ref(), Some(product));
        assert_eq!(state.health.current(), Health::Ok);
        assert_eq!(state.health.checked_at, Some(now), "Belvo's record applied");
        assert_eq!(store.user_links(owner).await.unwrap(), vec![link]);
        let due = store.claim_due(first_check_at, take_all()).await.unwrap();
        assert_eq!(due.entries, [DueEntry::Check(link)]);
    };
    let call = store.record_verification(&verification);
    let (transitions, heard) = run_until_announced(call, &mut ears, session.id, listed).await;
    if !heard {
        // The in-memory store announces within its one step: heard once the call is done. A
        // Redis store's call is still waiting for the reply of the command that announced.
        assert!(matches!(ears, Ears::Memory(_)), "heard while the call ran");
        assert!(ears.heard(session.id).await, "announced");
        listed().await;
    }
    let transitions = transitions.unwrap();
    assert_eq!(transitions.len(), 1, "{transitions:?}");
    assert!(!transitions[0].changed(), "a new link is ok from the start");
    // Recorded again (a retry whose first answer was lost): the check keeps its place.
    let again = Verification {
        matched: Some(matched(&session, false, now + 10)),
        now: now + 5,
        ..verification
    };
    store.record_verification(&again).await.unwrap();
    assert!(store
        .claim_due(now + 1_000, take_all())
        .await
        .unwrap()
        .entries
        .is_empty());
}

mod a_verified_link_is_listed_with_its_health_and_checks_before_it_is_announced {
    use std::sync::Arc;
    use std::time::Duration;

    use belvo_bff::store::{Keys, Retention};

    use super::super::step_by_step::Ears;
    use crate::helpers::{
        cluster_store_with, redis_store_on, test_redis_cluster_urls, test_redis_url, unique_prefix,
    };

    fn ttl() -> Retention {
        Retention::both(Duration::from_secs(600))
    }

    #[tokio::test]
    async fn memory() {
        let store = super::super::memory_store(ttl());
        super::a_verified_link_is_listed_with_its_health_and_checks_before_it_is_announced(
            store, None,
        )
        .await;
    }

    #[tokio::test]
    async fn redis() {
        let prefix = unique_prefix();
        let store = Arc::new(redis_store_on(&test_redis_url(), &prefix, ttl()).await);
        let channel = Keys::new(&prefix).events_channel();
        let ears = Ears::on_redis(&[test_redis_url()], &channel).await;
        super::a_verified_link_is_listed_with_its_health_and_checks_before_it_is_announced(
            store,
            Some(ears),
        )
        .await;
    }

    #[tokio::test]
    async fn cluster() {
        let prefix = unique_prefix();
        let store = Arc::new(cluster_store_with(&prefix, ttl()).await);
        let channel = Keys::new(&prefix).events_channel();
        let nodes = Ears::cluster_nodes(&test_redis_cluster_urls()[0]).await;
        let ears = Ears::on_redis(&nodes, &channel).await;
        super::a_verified_link_is_listed_with_its_health_and_checks_before_it_is_announced(
            store,
            Some(ears),
        )
        .await;
    }
}

async fn an_update_sessions_verification_repairs_the_link_and_its_index(store: DynStore) {
    let (session, link, mut changes) = succeeded(&store).await;
    let wrong = HealthChange::CredentialsFailed(HealthReason {
        code: "invalid_credentials".into(),
        message: None,
    });
    store
        .apply_health(&link, &wrong, now_millis())
        .await
        .unwrap();
    let listed = |store: DynStore| async move {
        let index = store
            .links_with_health(Health::NeedsReconnect, 1_000)
            .await
            .unwrap();
        index.iter().any(|(l, _)| *l == link)
    };
    assert!(listed(store.clone()).await);
    let verification = Verification {
        link,
        session: session.id,
        matched: Some(matched(&session, true, now_millis() + 3_600_000)),
        now: now_millis(),
    };
    let transitions = store.record_verification(&verification).await.unwrap();
    assert!(announced(&mut changes, session.id).await, "announced");
    let steps: Vec<_> = transitions.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        steps,
        [
            (Some(Health::NeedsReconnect), Health::Ok),
            (Some(Health::Ok), Health::Ok)
        ],
        "the reconnect repairs it, then Belvo's record is applied"
    );
    assert_eq!(
        store.link(&link).await.unwrap().unwrap().health.current(),
        Health::Ok
    );
    assert!(!listed(store.clone()).await, "out of the attention index");
}

async fn a_link_that_is_not_the_sessions_stays_unverified_and_unlisted(store: DynStore) {
    let (session, link, mut changes) = succeeded(&store).await;
    // Leased on the schedule by the callback's task: the scheduler would finish it later.
    let due = store
        .claim_due(now_millis() + 60_001, take_all())
        .await
        .unwrap();
    let verify = DueEntry::Verify {
        session: session.id,
        link,
    };
    assert_eq!(due.entries, [verify]);
    let verification = Verification {
        link,
        session: session.id,
        matched: None,
        now: now_millis(),
    };
    let transitions = store.record_verification(&verification).await.unwrap();
    assert!(transitions.is_empty());
    assert!(announced(&mut changes, session.id).await, "announced");
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.verified, Some(false));
    assert_eq!(state.product, None, "not claimed");
    assert!(store.user_links(&session.owner).await.unwrap().is_empty());
    // Off the schedule, and no check of it put there.
    assert!(store
        .claim_due(now_millis() + 86_400_000, take_all())
        .await
        .unwrap()
        .entries
        .is_empty());
}

every_store!(
    an_update_sessions_verification_repairs_the_link_and_its_index,
    a_link_that_is_not_the_sessions_stays_unverified_and_unlisted,
);
