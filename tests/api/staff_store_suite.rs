//! The console's storage, on every store (in memory, one Redis, a Redis Cluster): staff sessions, the audit
//! log, and versioned branding with optimistic concurrency and change announcements.

use std::sync::Arc;
use std::time::Duration;

use belvo_bff::domain::branding_version::{BrandingVersion, ChangeKind, SaveOutcome, WidgetLook};
use belvo_bff::domain::ids::ProductName;
use belvo_bff::domain::session::now_millis;
use belvo_bff::domain::staff::{
    AuditEntry, SessionTokenHash, SignInMethod, StaffName, StaffRole, StaffSession,
};
use belvo_bff::store::{AuditLog, DynStore, MemoryStore, Retention};

use crate::helpers::{cluster_store_with, redis_store_on, test_redis_url, unique_prefix};

async fn redis_store() -> DynStore {
    let ttl = Retention::default();
    Arc::new(redis_store_on(&test_redis_url(), &unique_prefix(), ttl).await)
}

async fn cluster_store() -> DynStore {
    let ttl = Retention::default();
    Arc::new(cluster_store_with(&unique_prefix(), ttl).await)
}

fn memory_store() -> DynStore {
    Arc::new(MemoryStore::new(Retention::default()))
}

pub(crate) fn staff_session() -> StaffSession {
    StaffSession {
        name: StaffName::parse("sofia").unwrap(),
        role: StaffRole::Support,
        method: SignInMethod::Password,
        csrf: "csrf".into(),
        created_at: now_millis(),
        expires_at: now_millis() + 60_000,
    }
}

async fn staff_sessions_expire_and_sign_out(store: DynStore) {
    let (short, long) = (SessionTokenHash::of("a"), SessionTokenHash::of("b"));
    let session = staff_session();
    store
        .put_staff_session(&short, &session, Duration::from_millis(300))
        .await
        .unwrap();
    store
        .put_staff_session(&long, &session, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(store.staff_session(&short).await.unwrap(), Some(session));
    store.delete_staff_session(&long).await.unwrap();
    assert_eq!(store.staff_session(&long).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.staff_session(&short).await.unwrap(), None);
}

async fn audit_is_newest_first(store: DynStore) {
    for action in ["first", "second", "third"] {
        let entry = AuditEntry {
            at: now_millis(),
            actor: "adam".into(),
            role: Some(StaffRole::Admin),
            action: action.into(),
            target: "t".into(),
            outcome: "ok".into(),
            ip: None,
        };
        store.record_audit(AuditLog::Staff, &entry).await.unwrap();
    }
    let log = store.audit_log(AuditLog::Staff, 2).await.unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["third", "second"]);
    assert!(
        store
            .audit_log(AuditLog::Refused, 10)
            .await
            .unwrap()
            .is_empty(),
        "the logs are apart"
    );
}

fn version(product: &ProductName, previous: &BrandingVersion, name: &str) -> BrandingVersion {
    let mut look = previous.look.clone();
    look.branding.company_name = Some(name.into());
    previous
        .next(look, "adam", now_millis(), ChangeKind::Edit)
        .map(|mut v| {
            v.product = product.clone();
            v
        })
        .unwrap()
}

async fn branding_versions_follow_each_other(store: DynStore) {
    let product = ProductName::parse("mx_employment").unwrap();
    let mut changes = store.branding_changes();
    let v0 = BrandingVersion::from_config(product.clone(), WidgetLook::default());
    let v1 = version(&product, &v0, "One");
    assert_eq!(store.save_branding(&v1).await.unwrap(), SaveOutcome::Saved);
    // Someone else also edited version 0: refused, nothing overwritten.
    let rival = version(&product, &v0, "Rival");
    assert_eq!(
        store.save_branding(&rival).await.unwrap(),
        SaveOutcome::Conflict { current: 1 }
    );
    let v2 = version(&product, &v1, "Two");
    assert_eq!(store.save_branding(&v2).await.unwrap(), SaveOutcome::Saved);

    assert_eq!(store.current_branding().await.unwrap(), vec![v2.clone()]);
    let history = store.branding_history(&product, 10).await.unwrap();
    assert_eq!(history, vec![v2, v1]);
    let other = ProductName::parse("br_ofda").unwrap();
    assert!(store.branding_history(&other, 10).await.unwrap().is_empty());
    // Saves are announced (Redis: after the subscription is up, which it signals too).
    tokio::time::timeout(Duration::from_secs(2), changes.recv())
        .await
        .expect("a save is announced")
        .unwrap();
}

macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::memory_store()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::redis_store().await).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::cluster_store().await).await;
                }
            )*
        }
    };
}

every_store!(
    staff_sessions_expire_and_sign_out,
    audit_is_newest_first,
    branding_versions_follow_each_other,
);
