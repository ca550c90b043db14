//! Every key the Redis store writes expires, except the ones `docs/store.md` says why not
//! (the audit logs and branding, bounded by length instead).

use std::time::Duration;

use belvo_bff::domain::branding_version::{BrandingVersion, ChangeKind, WidgetLook};
use belvo_bff::domain::callback::{CallbackEvent, CallbackKind};
use belvo_bff::domain::external_id::ExternalId;
use belvo_bff::domain::ids::{AccessMode, LinkId, Platform, ProductName, SessionId};
use belvo_bff::domain::session::{now_millis, NewSession, Transition};
use belvo_bff::domain::staff::{
    AuditEntry, SessionTokenHash, SignInMethod, StaffName, StaffRole, StaffSession,
};
use belvo_bff::domain::webhook::{LinkClaim, WebhookPayload};
use belvo_bff::store::{
    Attempts, AuditLog, Keys, Links, RedisConnection, RedisStore, Retention, Sessions, StaffStore,
};

use crate::helpers::{test_redis_url, unique_prefix};

fn new_session(owner: &ExternalId) -> NewSession {
    let now = now_millis();
    NewSession {
        id: SessionId::generate(),
        owner: owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        platform: Platform::Ios,
        institutions: vec!["imss_mx_employment".into()],
        access_mode: AccessMode::Single,
        created_at: now,
        token_expires_at: now + 600_000,
        deadline: now + 60_000,
    }
}

fn event(kind: CallbackKind, query: &str) -> Transition {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    Transition::new(
        &CallbackEvent::parse(kind, &pairs).unwrap(),
        "test",
        now_millis(),
    )
}

/// Writes through every store method that writes, in every area.
async fn write_everything(store: &RedisStore, owner: &ExternalId, link: &LinkId) {
    let session = new_session(owner);
    store.create_session(&session).await.unwrap();
    let warning = event(CallbackKind::Event, "warning=institution_disabled");
    store.apply(&session.id, &warning).await.unwrap();
    let success = event(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    store.apply(&session.id, &success).await.unwrap();
    let payload: WebhookPayload = serde_json::from_value(serde_json::json!({
        "webhook_id": "w-1",
        "webhook_type": "OWNERS",
        "webhook_code": "historical_update",
        "link_id": link.to_string(),
        "external_id": owner.as_str(),
        "data": {"total_owners": 1},
    }))
    .unwrap();
    let update = payload.into_update(now_millis()).unwrap();
    store.record_webhook(&update).await.unwrap();
    store
        .set_link_verified(link, &session.id, true)
        .await
        .unwrap();
    let claim = LinkClaim {
        owner: owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
    };
    assert!(store
        .claim_link(&LinkId::new_random(), &claim)
        .await
        .unwrap());

    let window = Duration::from_secs(60);
    store.count_attempt("someone", window).await.unwrap();
    store.count_attempt("someone", window).await.unwrap();
    store.release_attempt("someone").await.unwrap();
    let windows = [window, Duration::from_secs(3600)];
    store.count_token_request(owner, windows).await.unwrap();
    store.count_distinct("tried", "x", window, 3).await.unwrap();

    let staff = StaffSession {
        name: StaffName::parse("sofia").unwrap(),
        role: StaffRole::Admin,
        method: SignInMethod::Password,
        csrf: "csrf".into(),
        created_at: now_millis(),
        expires_at: now_millis() + 60_000,
    };
    let token = SessionTokenHash::of("cookie");
    store
        .put_staff_session(&token, &staff, window)
        .await
        .unwrap();
    for log in [AuditLog::Staff, AuditLog::Refused] {
        let entry = AuditEntry {
            at: now_millis(),
            actor: "sofia".into(),
            role: Some(StaffRole::Admin),
            action: "sign_in".into(),
            target: "-".into(),
            outcome: "ok".into(),
            ip: None,
        };
        store.record_audit(log, &entry).await.unwrap();
    }
    let product = ProductName::parse("mx_employment").unwrap();
    let v0 = BrandingVersion::from_config(product, WidgetLook::default());
    let mut look = v0.look.clone();
    look.branding.company_name = Some("Acme".into());
    let v1 = v0
        .next(look, "sofia", now_millis(), ChangeKind::Edit)
        .unwrap();
    store.save_branding(&v1).await.unwrap();
}

#[tokio::test]
async fn every_key_the_store_writes_expires_unless_documented_otherwise() {
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let url = test_redis_url();
    let timeout = Duration::from_secs(2);
    let store = RedisStore::connect(&url, keys.clone(), Retention::default(), timeout)
        .await
        .unwrap();
    let owner = ExternalId::parse("u_ttl_owner").unwrap();
    let link = LinkId::new_random();
    write_everything(&store, &owner, &link).await;

    let product = ProductName::parse("mx_employment").unwrap();
    let documented = [
        keys.audit_log(AuditLog::Staff),
        keys.audit_log(AuditLog::Refused),
        keys.branding_current(),
        keys.branding_history(&product),
    ];
    let (mut conn, _) = RedisConnection::single(&url, timeout).await.unwrap();
    let mut written = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        written.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // Every kind of key was written (a store method that stopped writing one would hide here).
    for expected in [
        keys.session(&SessionId::generate()),
        keys.link(&link),
        keys.user_links(&owner),
    ] {
        let suffix = &expected[expected.rfind(':').unwrap()..];
        assert!(
            written.iter().any(|k| k.ends_with(suffix)),
            "no `{suffix}` key among {written:?}"
        );
    }
    assert!(written.len() >= 16, "{written:?}");
    for key in &written {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if documented.contains(key) {
            assert_eq!(ttl, -1, "{key} is documented to have no TTL");
        } else {
            assert!(
                ttl > 0,
                "{key} has no TTL ({ttl}) and docs/store.md gives no reason"
            );
        }
    }
}
