//! Every key the Redis store writes expires, except the ones `docs/store.md` says why not
//! (the audit logs and branding, bounded by length instead).

use std::time::Duration;

use belvo_bff::domain::branding_version::{BrandingVersion, ChangeKind, WidgetLook};
use belvo_bff::domain::callback::CallbackKind;
use belvo_bff::domain::external_id::ExternalId;
use belvo_bff::domain::funnel::{Day, TerminalStep};
use belvo_bff::domain::ids::{LinkId, ProductName, SessionId};
use belvo_bff::domain::session::{now_millis, AccessToken, NewSession};
use belvo_bff::domain::shard::Shard;
use belvo_bff::domain::staff::{AuditEntry, SessionTokenHash, StaffRole};
use belvo_bff::domain::webhook::LinkClaim;
use belvo_bff::store::{
    Attempts, AuditLog, Keys, Links, RedisConnection, RedisStore, Sessions, StaffStore,
};

use super::{event, new_session, redis_store_with, success, webhook, LINK};
use crate::helpers::{test_redis_url, unique_prefix};
use crate::staff_store_suite::staff_session;

/// Writes through every store method that writes, in every area.
async fn write_everything(store: &RedisStore) {
    let session = new_session(60_000);
    let owner = &session.owner;
    store.create_session(&session).await.unwrap();
    let warning = event(CallbackKind::Event, "warning=institution_disabled");
    store.apply(&session.id, &warning).await.unwrap();
    store.apply(&session.id, &success()).await.unwrap();
    let link = LinkId::parse(LINK).unwrap();
    let update = webhook(&link, "w-1", owner.as_str());
    store.record_webhook(&update).await.unwrap();
    store
        .set_link_verified(&link, &session.id, true)
        .await
        .unwrap();
    let claim = LinkClaim {
        owner: owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
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

    let staff = staff_session();
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
    let store = redis_store_with(&prefix).await;
    write_everything(&store).await;
    let owner = ExternalId::parse("u_owner").unwrap();
    let link = LinkId::parse(LINK).unwrap();

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
    let session = SessionId::generate();
    for (expected, id) in [
        (keys.session(&session), session.to_string()),
        (keys.link(&link), link.to_string()),
        (keys.user_links(&owner), String::new()),
    ] {
        // What follows the hash tag, without the id: `:session:`, `:link:`, `:links`.
        let kind = expected[expected.find('}').unwrap() + 1..].replace(&id, "");
        assert!(
            written.iter().any(|k| k.contains(&kind)),
            "no `{kind}` key among {written:?}"
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

/// Sets `key`'s TTL by hand, as time passing (or another write) would have left it.
async fn pexpire(conn: &mut RedisConnection, key: String, ms: i64) {
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(key)
        .arg(ms)
        .query_async(conn)
        .await
        .unwrap();
}

/// SPEC §11's retention, key by key: a pending session (its hash, its owner's index) is kept
/// until its deadline plus `sessions.retention`, so past the deadline it reads `expired`, not
/// unknown; once it finishes, `sessions.retention` from then (its timeline too); its link
/// `links.retention` from the success.
#[tokio::test]
async fn every_key_is_kept_as_long_as_the_retention_rules_say() {
    const MINUTE: i64 = 60_000;
    let prefix = unique_prefix();
    let keys = Keys::new(&prefix);
    let retention = belvo_bff::store::Retention {
        sessions: Duration::from_secs(3600),
        links: Duration::from_secs(86_400),
    };
    let store = crate::helpers::redis_store_on(&test_redis_url(), &prefix, retention).await;
    let (mut conn, _) = RedisConnection::single(&test_redis_url(), Duration::from_secs(2))
        .await
        .unwrap();
    let mut pttl = async |key: String| -> i64 {
        redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap()
    };
    // A TTL only shrinks as time passes: at most the rule's, and not a minute less.
    let kept = |ttl: i64, rule: i64, what: &str| {
        assert!(
            ttl <= rule && ttl > rule - MINUTE,
            "{what}: PTTL {ttl} ms, the rule says {rule} ms"
        );
    };
    let session = new_session(30 * MINUTE);
    store.create_session(&session).await.unwrap();
    let pending = 30 * MINUTE + 3_600_000;
    kept(
        pttl(keys.session(&session.id)).await,
        pending,
        "pending session",
    );
    // Its widget token lives as long as the token: `/w/` renews one with a minute or less left,
    // so an expired token is never read.
    kept(
        pttl(keys.widget_token(&session.id)).await,
        session.token_expires_at - session.created_at,
        "its widget token",
    );
    // A token outliving the session (never from Belvo, whose last 10 minutes) goes with it.
    let lasting = NewSession {
        id: SessionId::generate(),
        token_expires_at: session.created_at + 100 * 3_600_000,
        ..session.clone()
    };
    store.create_session(&lasting).await.unwrap();
    kept(
        pttl(keys.widget_token(&lasting.id)).await,
        pending,
        "a token outliving its session",
    );
    store
        .store_token(
            &lasting.id,
            &AccessToken("renewed".into()),
            now_millis() + 100 * 3_600_000,
        )
        .await
        .unwrap();
    kept(
        pttl(keys.widget_token(&lasting.id)).await,
        pending,
        "a renewed token outliving its session",
    );
    kept(
        pttl(keys.user_sessions(&session.owner)).await,
        pending,
        "its owner's index",
    );
    // An event that leaves it pending starts its timeline, which expires with it; a second
    // one leaves that as it is.
    for query in ["warning=institution_disabled", "warning=institution_down"] {
        let warning = event(CallbackKind::Event, query);
        store.apply(&session.id, &warning).await.unwrap();
        kept(
            pttl(keys.timeline(&session.id)).await,
            pending,
            "a pending session's timeline",
        );
    }

    store.apply(&session.id, &success()).await.unwrap();
    kept(
        pttl(keys.session(&session.id)).await,
        3_600_000,
        "finished session",
    );
    kept(
        pttl(keys.timeline(&session.id)).await,
        3_600_000,
        "its timeline",
    );
    let link = LinkId::parse(LINK).unwrap();
    kept(pttl(keys.link(&link)).await, 86_400_000, "its link");
    // The finished session's token expires as it would have (Belvo invalidates it on success).
    kept(
        pttl(keys.widget_token(&session.id)).await,
        session.token_expires_at - session.created_at,
        "the finished session's widget token",
    );

    // A later success naming the link (its owner reconnecting) keeps it from then.
    let (mut admin, _) = RedisConnection::single(&test_redis_url(), Duration::from_secs(2))
        .await
        .unwrap();
    pexpire(&mut admin, keys.link(&link), MINUTE).await;
    let again = new_session(2 * 86_400_000);
    store.create_session(&again).await.unwrap();
    // Finished the next day: that day's funnel counters start with it, and expire too.
    let mut finished = success();
    finished.now += 86_400_000;
    finished.funnel = Some(TerminalStep {
        step: "success".into(),
        institution: "imss_mx_employment".into(),
    });
    store.apply(&again.id, &finished).await.unwrap();
    kept(pttl(keys.link(&link)).await, 86_400_000, "its link, again");

    // A webhook keeps the link (its timeline and webhook ids too) from then; one that comes
    // right after (a burst) leaves the TTLs it finds, still within a minute of the rule.
    pexpire(&mut admin, keys.link(&link), MINUTE).await;
    for id in ["w-ttl-1", "w-ttl-2", "w-ttl-3"] {
        if id == "w-ttl-3" {
            // The last webhook two minutes ago, a claim of the link just now (which keeps the
            // link hash alone): the next webhook brings the timeline and ids up to the link.
            for key in [keys.link_timeline(&link), keys.link_webhook_ids(&link)] {
                pexpire(&mut admin, key, 86_400_000 - 2 * MINUTE).await;
            }
        }
        let mut update = webhook(&link, id, again.owner.as_str());
        if id != "w-ttl-3" {
            // The first two two minutes ago.
            update.now -= 2 * MINUTE;
        }
        store.record_webhook(&update).await.unwrap();
        for (key, what) in [
            (keys.link(&link), "its link, after a webhook"),
            (keys.link_timeline(&link), "its timeline, after a webhook"),
            (
                keys.link_webhook_ids(&link),
                "its webhook ids, after a webhook",
            ),
        ] {
            kept(pttl(key).await, 86_400_000, what);
        }
    }
    let day = Day::of_millis(finished.now);
    let counters = keys.funnel(Shard::of_session(&again.id), day);
    let rule = day.expire_at_millis() - now_millis();
    kept(pttl(counters).await, rule, "the next day's funnel counters");
}
