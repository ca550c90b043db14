//! Link health and the link check schedule, on every store (SPEC §11): each fact, the
//! precedence of the facts, what clears them, the history and the attention index, and the due
//! set claimed once.

use belvo_bff::domain::event::EventType;
use belvo_bff::domain::health::{BelvoRecord, Health, HealthChange, HealthReason};
use belvo_bff::store::{ClaimRules, DueEntry};

use super::*;

/// A link confirmed as `u_owner`'s.
async fn claimed_link(store: &DynStore) -> LinkId {
    let link = LinkId::new_random();
    let claim = LinkClaim {
        owner: ExternalId::parse("u_owner").unwrap(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&link, &claim).await.unwrap());
    link
}

fn credentials(code: &str, message: &str) -> HealthChange {
    HealthChange::CredentialsFailed(HealthReason {
        code: code.into(),
        message: Some(message.into()),
    })
}

fn record(r: BelvoRecord) -> HealthChange {
    HealthChange::Record(r)
}

/// Applies `change` and returns the link's health afterwards.
async fn after(store: &DynStore, link: &LinkId, change: HealthChange) -> Health {
    let transition = store
        .apply_health(link, &change, now_millis())
        .await
        .unwrap()
        .expect("a known link");
    let stored = store.link(link).await.unwrap().unwrap().health;
    assert_eq!(stored.health, Some(transition.to), "{change:?}");
    transition.to
}

async fn credentials_problems_need_a_reconnect_or_a_valid_record(store: DynStore) {
    let link = claimed_link(&store).await;
    let fresh = store.link(&link).await.unwrap().unwrap().health;
    assert_eq!(fresh.current(), Health::Ok);
    assert_eq!(fresh.checked_at, None);

    let changed = store
        .apply_health(&link, &credentials("invalid_credentials", "wrong"), 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.to, Health::NeedsReconnect);
    assert_eq!(changed.event(), Some(EventType::LinkNeedsReconnect));
    let health = store.link(&link).await.unwrap().unwrap().health;
    let reason = health.reason.unwrap();
    assert_eq!(reason.code, "invalid_credentials");
    assert_eq!(reason.message.as_deref(), Some("wrong"));
    assert_eq!(health.changed_at, Some(1_000));
    assert_eq!(
        health.checked_at, None,
        "a webhook is not a read of the record"
    );

    // Only a reconnect or a `valid` record clears it; `unconfirmed` does not.
    assert_eq!(
        after(&store, &link, record(BelvoRecord::Unconfirmed)).await,
        Health::NeedsReconnect
    );
    assert_eq!(
        after(&store, &link, record(BelvoRecord::Valid)).await,
        Health::Ok
    );
    let health = store.link(&link).await.unwrap().unwrap().health;
    assert!(health.checked_at.is_some());
    assert_eq!(health.reason, None, "no reason once ok");

    for (change, code) in [
        (credentials("token_required", "mfa"), "token_required"),
        (record(BelvoRecord::Invalid), "invalid_link"),
        (record(BelvoRecord::TokenRequired), "token_required"),
        (
            credentials("invalid_link", "several errors"),
            "invalid_link",
        ),
    ] {
        assert_eq!(after(&store, &link, change).await, Health::NeedsReconnect);
        let reason = store.link(&link).await.unwrap().unwrap().health.reason;
        assert_eq!(reason.unwrap().code, code);
        let repaired = store
            .apply_health(&link, &HealthChange::Reconnected, now_millis())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(repaired.to, Health::Ok);
        assert_eq!(repaired.event(), Some(EventType::LinkRepaired));
    }
}

async fn the_worst_fact_wins_and_gone_is_final(store: DynStore) {
    let link = claimed_link(&store).await;
    assert_eq!(
        after(&store, &link, record(BelvoRecord::Unconfirmed)).await,
        Health::Unavailable
    );
    let reason = store.link(&link).await.unwrap().unwrap().health.reason;
    assert_eq!(reason.unwrap().code, "link_unconfirmed");
    // needs_reconnect > unavailable, and clearing it shows unavailable again.
    assert_eq!(
        after(&store, &link, credentials("token_required", "")).await,
        Health::NeedsReconnect
    );
    assert_eq!(
        after(&store, &link, HealthChange::Reconnected).await,
        Health::Unavailable,
        "still unconfirmed"
    );
    assert_eq!(
        after(&store, &link, record(BelvoRecord::Valid)).await,
        Health::Ok
    );
    assert_eq!(
        after(&store, &link, credentials("invalid_credentials", "x")).await,
        Health::NeedsReconnect
    );
    let gone = store
        .apply_health(&link, &record(BelvoRecord::Missing), now_millis())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.to, Health::Gone);
    assert_eq!(gone.event(), Some(EventType::LinkGone));
    for change in [
        HealthChange::Reconnected,
        record(BelvoRecord::Valid),
        record(BelvoRecord::Unconfirmed),
    ] {
        assert_eq!(after(&store, &link, change).await, Health::Gone);
    }
    let reason = store.link(&link).await.unwrap().unwrap().health.reason;
    assert_eq!(reason.unwrap().code, "link_gone");
}

async fn health_changes_are_kept_in_a_bounded_history_and_indexed(store: DynStore) {
    let link = claimed_link(&store).await;
    let other = claimed_link(&store).await;
    store
        .apply_health(&other, &credentials("token_required", ""), 5)
        .await
        .unwrap();
    store
        .apply_health(&link, &credentials("invalid_credentials", "a"), 10)
        .await
        .unwrap();
    // The same health again is no change: not in the history, not moved in the index.
    store
        .apply_health(&link, &credentials("invalid_credentials", "b"), 20)
        .await
        .unwrap();
    let history = store.health_history(&link).await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["from"], "ok");
    assert_eq!(history[0]["to"], "needs_reconnect");
    assert_eq!(history[0]["at"], 10);
    let listed = store
        .links_with_health(Health::NeedsReconnect, 10)
        .await
        .unwrap();
    let ours: Vec<_> = listed
        .iter()
        .filter(|(l, _)| *l == link || *l == other)
        .collect();
    assert_eq!(ours, [&(link, 10), &(other, 5)], "newest change first");

    store
        .apply_health(&link, &HealthChange::Reconnected, 30)
        .await
        .unwrap();
    let listed = store
        .links_with_health(Health::NeedsReconnect, 1000)
        .await
        .unwrap();
    assert!(!listed.iter().any(|(l, _)| *l == link), "ok links leave it");
    assert!(listed.iter().any(|(l, _)| *l == other));

    for n in 0..60 {
        let change = if n % 2 == 0 {
            credentials("token_required", "")
        } else {
            HealthChange::Reconnected
        };
        store.apply_health(&link, &change, 100 + n).await.unwrap();
    }
    let history = store.health_history(&link).await.unwrap();
    assert_eq!(history.len(), belvo_bff::domain::health::MAX_HEALTH_HISTORY);
    assert_eq!(history[0]["at"], 159, "newest first");

    // Deleting the link forgets its health everywhere.
    let owner = ExternalId::parse("u_owner").unwrap();
    assert!(store.delete_link(&other, &owner).await.unwrap());
    assert!(store.health_history(&other).await.unwrap().is_empty());
    let listed = store
        .links_with_health(Health::NeedsReconnect, 1000)
        .await
        .unwrap();
    assert!(!listed.iter().any(|(l, _)| *l == other));
}

async fn a_link_webhook_for_an_unknown_link_is_applied_when_it_appears(store: DynStore) {
    let link = LinkId::new_random();
    // Nothing is created by a fact about a link the store does not know.
    assert_eq!(
        store
            .apply_health(&link, &HealthChange::Reconnected, 1)
            .await
            .unwrap(),
        None
    );
    assert!(store.link(&link).await.unwrap().is_none());

    let payload: WebhookPayload = serde_json::from_value(serde_json::json!({
        "webhook_id": "link-w1", "webhook_type": "LINK", "webhook_code": "invalid_credentials",
        "process_type": "recurrent_update", "link_id": link.to_string(),
        "external_id": "u_owner",
        "data": {"error_code": "login_error", "error_message": "Invalid credentials", "status": 400}
    }))
    .unwrap();
    let update = payload.into_update(now_millis()).unwrap();
    store.record_webhook(&update).await.unwrap();
    let problem = update.health.clone().unwrap();
    store
        .apply_health(&link, &HealthChange::CredentialsFailed(problem), 7)
        .await
        .unwrap()
        .unwrap();
    let claim = LinkClaim {
        owner: ExternalId::parse("u_owner").unwrap(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&link, &claim).await.unwrap());
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.health.current(), Health::NeedsReconnect);
    assert!(state.resources.is_empty(), "a LINK webhook is no resource");
}

fn rules(batch: usize, rate: u64) -> ClaimRules {
    ClaimRules {
        batch,
        rate_per_second: rate,
        check_every_ms: 86_400_000,
        verify_lease_ms: 60_000,
    }
}

async fn due_entries_are_claimed_once_within_the_rate(store: DynStore) {
    // A clock of this test's own, far from every other test's entries.
    let now = 4_000_000_000_000 + (rand_ms() % 1_000_000) * 1_000;
    let links: Vec<LinkId> = (0..5).map(|_| LinkId::new_random()).collect();
    for (n, link) in links.iter().enumerate() {
        let at = now - 10_000 + n as i64;
        store
            .schedule(&DueEntry::Check(*link), at, false)
            .await
            .unwrap();
    }
    let verify = DueEntry::Verify {
        session: SessionId::generate(),
        link: links[0],
    };
    store.schedule(&verify, now + 5_000, false).await.unwrap();
    // Scheduling again without replace keeps the time.
    store
        .schedule(&DueEntry::Check(links[0]), now + 1, false)
        .await
        .unwrap();

    let mut seen = Vec::new();
    let first = store.claim_due(now, rules(2, 3)).await.unwrap();
    assert_eq!(
        first.entries,
        [DueEntry::Check(links[0]), DueEntry::Check(links[1])],
        "oldest first"
    );
    assert_eq!(first.overdue_ms, 10_000 - 2, "the oldest left due");
    seen.extend(first.entries);
    let second = store.claim_due(now, rules(2, 3)).await.unwrap();
    assert_eq!(second.entries.len(), 1, "3 a second in all");
    seen.extend(second.entries);
    let later = store.claim_due(now + 1_000, rules(10, 3)).await.unwrap();
    assert_eq!(later.entries.len(), 2, "the next second has room again");
    assert_eq!(later.overdue_ms, 0);
    seen.extend(later.entries);
    seen.sort_by_key(|e| e.member());
    seen.dedup();
    assert_eq!(seen.len(), 5, "each due link once");

    // The verification comes due at its time; claiming leases it, finishing removes it.
    let at = now + 6_000;
    assert_eq!(
        store.claim_due(at, rules(10, 10)).await.unwrap().entries,
        [verify]
    );
    assert!(store
        .claim_due(at + 1_000, rules(10, 10))
        .await
        .unwrap()
        .entries
        .is_empty());
    let retry = store.claim_due(at + 61_000, rules(10, 10)).await.unwrap();
    assert_eq!(retry.entries, [verify], "leased, not lost");
    store.unschedule(&verify).await.unwrap();
    let checks_again = store
        .claim_due(now + 86_400_000 + 2_000, rules(10, 10))
        .await
        .unwrap();
    assert_eq!(
        checks_again.entries.len(),
        5,
        "checks come due a period later"
    );
    assert!(!checks_again.entries.contains(&verify));
}

async fn two_claimers_never_take_one_entry_twice(store: DynStore) {
    let now = 5_000_000_000_000 + (rand_ms() % 1_000_000) * 1_000;
    let links: Vec<LinkId> = (0..40).map(|_| LinkId::new_random()).collect();
    for link in &links {
        store
            .schedule(&DueEntry::Check(*link), now - 1, false)
            .await
            .unwrap();
    }
    let claim = |store: DynStore| async move {
        let mut taken = Vec::new();
        for _ in 0..30 {
            taken.extend(store.claim_due(now, rules(3, 1000)).await.unwrap().entries);
        }
        taken
    };
    let (a, b) = tokio::join!(claim(store.clone()), claim(store.clone()));
    let mut all: Vec<String> = a.iter().chain(&b).map(DueEntry::member).collect();
    assert_eq!(all.len(), 40);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "no entry taken twice");
}

fn rand_ms() -> i64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_007) as i64
}

every_store!(
    credentials_problems_need_a_reconnect_or_a_valid_record,
    the_worst_fact_wins_and_gone_is_final,
    health_changes_are_kept_in_a_bounded_history_and_indexed,
    a_link_webhook_for_an_unknown_link_is_applied_when_it_appears,
    due_entries_are_claimed_once_within_the_rate,
    two_claimers_never_take_one_entry_twice,
);
