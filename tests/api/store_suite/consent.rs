//! Open-finance consents on every store (SPEC §12): each CONSENT change, the health it means,
//! and the three ways back to `active` (data after the expiry, Belvo's record reading valid
//! again after reading otherwise, a new due date).

use belvo_bff::domain::consent::{ConsentChange, ConsentState, DueDate, RenewInfo};
use belvo_bff::domain::health::{BelvoRecord, Health, HealthChange};

use super::*;

async fn ofda_link(store: &DynStore) -> LinkId {
    let link = LinkId::new_random();
    let claim = LinkClaim {
        owner: ExternalId::parse("u_owner").unwrap(),
        product: ProductName::parse("br_ofda").unwrap(),
        institution: "erebor_br_retail".into(),
        funnel: None,
    };
    assert!(store.claim_link(&link, &claim).await.unwrap());
    link
}

fn consent(code: &str, state: ConsentState, due: DueDate) -> HealthChange {
    HealthChange::Consent(ConsentChange {
        code: code.into(),
        consent_id: Some("c-1".into()),
        state,
        due,
        renew: (state == ConsentState::Expired).then(|| RenewInfo {
            institution: Some("erebor_br_retail".into()),
            institution_display_name: Some("Erebor Brasil".into()),
            institution_icon_logo: None,
        }),
    })
}

/// Applies `change` at `at` and returns the health and the consent afterwards.
async fn apply_at(
    store: &DynStore,
    link: &LinkId,
    change: HealthChange,
    at: i64,
) -> (Health, belvo_bff::domain::consent::LinkConsent) {
    let t = store
        .apply_health(link, &change, at)
        .await
        .unwrap()
        .unwrap();
    let stored = store.link(link).await.unwrap().unwrap();
    assert_eq!(stored.health.health, Some(t.to));
    (t.to, stored.consent)
}

async fn every_consent_change_moves_the_health(store: DynStore) {
    let link = ofda_link(&store).await;
    let fresh = store.link(&link).await.unwrap().unwrap().consent;
    assert_eq!(fresh.state, ConsentState::Active);
    assert_eq!(
        (fresh.consent_id, fresh.due_at, fresh.changed_at),
        (None, None, None)
    );

    let expiring = consent(
        "openfinance_consent_about_to_expire",
        ConsentState::Expiring,
        DueDate::At(5_000),
    );
    let (health, c) = apply_at(&store, &link, expiring, 1_000).await;
    assert_eq!(health, Health::ConsentExpiring);
    assert_eq!(
        (c.state, c.due_at, c.changed_at),
        (ConsentState::Expiring, Some(5_000), Some(1_000))
    );
    assert_eq!(c.consent_id.as_deref(), Some("c-1"));
    let reason = store
        .link(&link)
        .await
        .unwrap()
        .unwrap()
        .health
        .reason
        .unwrap();
    assert_eq!(reason.code, "consent_expiring");

    // A daily valid record does not clear an expiring consent; data before the due date neither.
    let (health, _) = apply_at(
        &store,
        &link,
        HealthChange::Record(BelvoRecord::Valid),
        2_000,
    )
    .await;
    assert_eq!(health, Health::ConsentExpiring);
    let (health, _) = apply_at(&store, &link, HealthChange::DataArrived, 3_000).await;
    assert_eq!(health, Health::ConsentExpiring);
    // Data after the due date: it was renewed.
    let (health, c) = apply_at(&store, &link, HealthChange::DataArrived, 6_000).await;
    assert_eq!(
        (health, c.state, c.due_at),
        (Health::Ok, ConsentState::Active, None)
    );

    // An unreadable due date is null, the state still moves.
    let unreadable = consent(
        "openfinance_consent_about_to_expire",
        ConsentState::Expiring,
        DueDate::Unreadable,
    );
    let (health, c) = apply_at(&store, &link, unreadable, 7_000).await;
    assert_eq!((health, c.due_at), (Health::ConsentExpiring, None));
    // A new due date: active again, with it; a change without one keeps it.
    let moved = consent(
        "openfinance_consent_expiration_changed",
        ConsentState::Active,
        DueDate::At(90_000),
    );
    let (health, c) = apply_at(&store, &link, moved, 8_000).await;
    assert_eq!(
        (health, c.state, c.due_at),
        (Health::Ok, ConsentState::Active, Some(90_000))
    );
    let kept = consent(
        "openfinance_consent_expiration_changed",
        ConsentState::Active,
        DueDate::Absent,
    );
    assert_eq!(
        apply_at(&store, &link, kept, 8_500).await.1.due_at,
        Some(90_000)
    );

    for code in ["openfinance_consent_expired", "consent_expired"] {
        let expired = consent(code, ConsentState::Expired, DueDate::Absent);
        let (health, c) = apply_at(&store, &link, expired, 9_000).await;
        assert_eq!(
            (health, c.state),
            (Health::ConsentExpired, ConsentState::Expired),
            "{code}"
        );
        let renew = c.renew.unwrap();
        assert_eq!(
            renew.institution_display_name.as_deref(),
            Some("Erebor Brasil")
        );
        // A valid record alone is not "valid again".
        let (health, _) = apply_at(
            &store,
            &link,
            HealthChange::Record(BelvoRecord::Valid),
            9_500,
        )
        .await;
        assert_eq!(health, Health::ConsentExpired, "{code}");
        let (health, c) = apply_at(&store, &link, HealthChange::DataArrived, 10_000).await;
        assert_eq!(
            (health, c.state, c.renew),
            (Health::Ok, ConsentState::Active, None),
            "{code}"
        );
    }

    // Belvo's record reads otherwise, then valid again: active.
    let expired = consent(
        "openfinance_consent_expired",
        ConsentState::Expired,
        DueDate::Absent,
    );
    apply_at(&store, &link, expired, 11_000).await;
    let (health, _) = apply_at(
        &store,
        &link,
        HealthChange::Record(BelvoRecord::Unconfirmed),
        12_000,
    )
    .await;
    assert_eq!(health, Health::ConsentExpired);
    let (health, c) = apply_at(
        &store,
        &link,
        HealthChange::Record(BelvoRecord::Valid),
        13_000,
    )
    .await;
    assert_eq!((health, c.state), (Health::Ok, ConsentState::Active));

    for code in [
        "openfinance_consent_with_unrecoverable_resources",
        "openfinance_consent_with_temporarily_unavailable_resources",
    ] {
        let unavailable = consent(code, ConsentState::Unavailable, DueDate::Absent);
        let (health, c) = apply_at(&store, &link, unavailable, 14_000).await;
        assert_eq!(
            (health, c.state),
            (Health::Unavailable, ConsentState::Unavailable),
            "{code}"
        );
        let reason = store
            .link(&link)
            .await
            .unwrap()
            .unwrap()
            .health
            .reason
            .unwrap();
        assert_eq!(reason.code, "consent_unavailable");
        apply_at(&store, &link, HealthChange::DataArrived, 15_000).await;
    }
    let history = store.health_history(&link).await.unwrap();
    assert!(
        history.iter().any(|h| h["to"] == "consent_expired"),
        "{history:?}"
    );
}

every_store!(every_consent_change_moves_the_health);
