//! One suite, three stores: in-memory, one Redis and a Redis Cluster must behave the same.
//! One file per area of the store (`sessions.rs`, `links.rs`, `attempts.rs`; staff, audit and
//! branding in `../staff_store_suite.rs`), then what only a cluster or only one server does.

use std::sync::Arc;
use std::time::Duration;

use belvo_bff::domain::callback::{CallbackEvent, CallbackKind};
use belvo_bff::domain::external_id::ExternalId;
use belvo_bff::domain::ids::{AccessMode, LinkId, Platform, ProductName, SessionId};
use belvo_bff::domain::session::{
    now_millis, AccessToken, Applied, NewSession, SessionMode, Status, Transition, WidgetOpening,
    LINK_MISMATCH, LINK_MISMATCH_MESSAGE, LINK_OWNED_ELSEWHERE, LINK_OWNED_ELSEWHERE_MESSAGE,
};
use belvo_bff::domain::webhook::{
    LinkClaim, Readiness, WebhookApplied, WebhookPayload, WebhookUpdate, MAX_WEBHOOK_IDS,
    WEBHOOK_IDS_SLACK,
};
use belvo_bff::store::{DynStore, MemoryStore, RedisStore, Retention};

use crate::helpers::{cluster_store_with, redis_store_on, test_redis_url, unique_prefix};

async fn redis_store(ttl: Retention) -> DynStore {
    Arc::new(redis_store_on(&test_redis_url(), &unique_prefix(), ttl).await)
}

/// A store on the test Redis with the given key prefix (to look at its keys).
async fn redis_store_with(prefix: &str) -> RedisStore {
    redis_store_on(&test_redis_url(), prefix, Duration::from_secs(600)).await
}

async fn cluster_store(ttl: Retention) -> DynStore {
    Arc::new(cluster_store_with(&unique_prefix(), ttl).await)
}

fn memory_store(ttl: Retention) -> DynStore {
    Arc::new(MemoryStore::new(ttl))
}

/// A widget token shaped as Belvo's (an HS512 JWT with the claims its guides show), which the
/// Redis store keeps compact; `jti` tells them apart.
fn widget_token(jti: &str) -> AccessToken {
    let claims = serde_json::json!({
        "token_type": "access",
        "exp": 1_796_000_600,
        "iat": 1_796_000_000,
        "jti": jti,
        "user_id": "6e9be884-4781-4143-b673-aca02475ee8c",
        "organization_name": "store suite",
        "organization_id": "6e9be884-4781-4143-b673-aca02475ee8c",
        "scopes": ["read_institutions", "write_links"],
        "environment": "sandbox",
        "api_url": "sandbox.belvo.com",
        "credentials_storage": "30d",
        "stale_in": "365d",
        "fetch_resources": ["EMPLOYMENT_RECORDS", "OWNERS"],
        "iss": "sandbox.belvo.com",
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"store suite"),
    )
    .unwrap();
    AccessToken(token)
}

fn new_session(deadline_in_ms: i64) -> NewSession {
    let now = now_millis();
    NewSession {
        id: SessionId::generate(),
        owner: ExternalId::parse("u_owner").unwrap(),
        product: ProductName::parse("mx_employment").unwrap(),
        platform: Platform::Android,
        institutions: vec!["imss_mx_employment".into(), "issste_mx_employment".into()],
        access_mode: AccessMode::Single,
        created_at: now,
        token_expires_at: now + 600_000,
        deadline: now + deadline_in_ms,
        locale: Some("es".into()),
        mode: SessionMode::Connect,
        update_link: None,
        token: Some(widget_token("1f1e2d3c4b5a69788796a5b4c3d2e1f0")),
        sub: None,
    }
}

fn event(kind: CallbackKind, query: &str) -> Transition {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let event = CallbackEvent::parse(kind, &pairs).unwrap();
    Transition::new(&event, "test", now_millis())
}

const LINK: &str = "cb65f82c-dc93-4d3e-8270-9a27528397f5";

fn success() -> Transition {
    event(
        CallbackKind::Success,
        &format!("link={LINK}&institution=imss_mx_employment"),
    )
}

fn webhook(link: &LinkId, webhook_id: &str, external_id: &str) -> WebhookUpdate {
    let payload: WebhookPayload = serde_json::from_value(serde_json::json!({
        "webhook_id": webhook_id,
        "webhook_type": "EMPLOYMENT_RECORDS",
        "webhook_code": "historical_update",
        "process_type": "historical_update",
        "link_id": link.to_string(),
        "external_id": external_id,
        "data": {"total_employment_record_profiles": 2},
    }))
    .unwrap();
    payload.into_update(now_millis()).unwrap()
}

/// Returns once announcements reach `changes` (a Redis subscription starts in the background):
/// records warnings on a session of its own until one is announced.
async fn until_subscribed(
    store: &DynStore,
    changes: &mut tokio::sync::broadcast::Receiver<SessionId>,
) {
    let probe = new_session(60_000);
    store.create_session(&probe).await.unwrap();
    for n in 0..100 {
        let warning = event(CallbackKind::Warning, &format!("warning=probe_{n}"));
        store.apply(&probe.id, &warning).await.unwrap();
        let heard = async { while changes.recv().await.unwrap() != probe.id {} };
        if tokio::time::timeout(Duration::from_millis(100), heard)
            .await
            .is_ok()
        {
            return;
        }
    }
    panic!("no announcement ever arrived");
}

/// Whether `id` is announced on `changes` within 5 s (other announcements are skipped).
async fn announced(
    changes: &mut tokio::sync::broadcast::Receiver<SessionId>,
    id: SessionId,
) -> bool {
    let wait = async { while changes.recv().await.unwrap() != id {} };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .is_ok()
}

macro_rules! every_store {
    ($($name:ident $(with ttl $ttl:expr)?),* $(,)?) => {
        mod memory {
            use std::time::Duration;
            $(
                #[tokio::test]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut ttl = belvo_bff::store::Retention::both(Duration::from_secs(600));
                    $(ttl = $ttl.into();)?
                    super::$name(super::memory_store(ttl)).await;
                }
            )*
        }
        mod redis {
            use std::time::Duration;
            $(
                #[tokio::test]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut ttl = belvo_bff::store::Retention::both(Duration::from_secs(600));
                    $(ttl = $ttl.into();)?
                    super::$name(super::redis_store(ttl).await).await;
                }
            )*
        }
        mod cluster {
            use std::time::Duration;
            $(
                #[tokio::test]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut ttl = belvo_bff::store::Retention::both(Duration::from_secs(600));
                    $(ttl = $ttl.into();)?
                    super::$name(super::cluster_store(ttl).await).await;
                }
            )*
        }
    };
}

/// `mx_employment` fetching `EMPLOYMENT_RECORDS`, as configured by default: the product's fetch
/// resources, which the stores of `every_store!` do not know, and without which no link's
/// resources are ever all ready.
fn employment_resources() -> belvo_bff::domain::webhook::FetchResources {
    let employment = vec!["EMPLOYMENT_RECORDS".to_owned()];
    Arc::new(
        [("mx_employment".to_owned(), employment)]
            .into_iter()
            .collect(),
    )
}

/// One test, `$name` in the module around, on each store given [`employment_resources`]: the
/// tests `$module::{memory, redis, cluster}`.
macro_rules! every_store_with_fetch_resources {
    ($module:ident, $name:ident) => {
        mod $module {
            use std::sync::Arc;
            use std::time::Duration;

            use belvo_bff::store::MemoryStore;

            use crate::helpers::{
                cluster_store_with, redis_store_on, test_redis_url, unique_prefix,
            };
            use crate::store_suite::employment_resources;

            const TTL: Duration = Duration::from_secs(600);

            #[tokio::test]
            async fn memory() {
                let store =
                    MemoryStore::new(TTL.into()).with_fetch_resources(employment_resources());
                super::$name(Arc::new(store)).await;
            }

            #[tokio::test]
            async fn redis() {
                let store = redis_store_on(&test_redis_url(), &unique_prefix(), TTL).await;
                super::$name(Arc::new(store.with_fetch_resources(employment_resources()))).await;
            }

            #[tokio::test]
            async fn cluster() {
                let store = cluster_store_with(&unique_prefix(), TTL).await;
                super::$name(Arc::new(store.with_fetch_resources(employment_resources()))).await;
            }
        }
    };
}

mod attempts;
mod consent;
mod funnel;
mod health;
mod key_ttls;
mod late_events;
mod links;
mod outbox;
mod replay_hints;
mod sessions;
mod step_by_step;
mod verification;

/// Behaviour only a cluster has: a success is two steps there (the link hash is in another slot).
mod cluster_only;
/// Behaviour only one server has: each request-serving thread gets a connection of its own.
mod single_server_only;
