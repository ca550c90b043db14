//! Where sessions live, by area: one trait per area, each with a Redis implementation (a single
//! server or a cluster, `redis/<area>.rs`) and an in-memory one (`memory/<area>.rs`) that behave
//! the same (both run the shared suites in `tests/api/store_suite.rs` and
//! `tests/api/staff_store_suite.rs`). Callers hold one [`DynStore`] that has every area.
//!
//! - [`Sessions`]: sessions and callbacks (`sessions.rs`);
//! - [`Links`]: links, webhooks and resources (`links.rs`);
//! - [`Attempts`]: attempt counters (`attempts.rs`);
//! - [`StaffStore`]: staff sessions, audit logs and branding (`staff.rs`);
//! - [`LinkHealthStore`]: link health, its attention index and the link check schedule
//!   (`health.rs`).
//! - [`Outbox`]: outbound events waiting for delivery (`outbox.rs`);
//! - [`Deliveries`]: what an admin sees of them, and replays (`deliveries.rs`).
//! - [`FunnelStore`]: the funnel's daily counters, read back (`funnel.rs`); the session writes
//!   and the link writes (verification, readiness) count them.
//!
//! A new area (link health, consents, the outbox) gets its own trait file, its two
//! implementations and its part of the suite, and joins [`Store`]. Key names are built in
//! `keys.rs` (their layout is in `docs/store.md`), Lua scripts live in `lua/`.

mod attempts;
mod codec;
mod deliveries;
mod funnel;
mod health;
mod institutions;
mod keys;
mod links;
mod lua;
mod memory;
mod outbox;
mod redis;
mod redis_connection;
mod sessions;
mod staff;

use std::sync::Arc;

pub use self::memory::MemoryStore;
pub use self::redis::{Migration, RedisStore};
pub use self::redis_connection::RedisConnection;
pub use attempts::Attempts;
pub use codec::{decode_widget_token, encode_widget_token, CorruptSession, CorruptToken};
pub use deliveries::{replayed_fields, DeadDelivery, Deliveries, HeldDelivery};
pub use funnel::FunnelStore;
pub use health::{ClaimRules, Claimed, DueEntry, LinkHealthStore};
pub use institutions::InstitutionStore;
pub use keys::Keys;
pub use links::Links;
pub use outbox::{Outbox, OutboxEntry};
pub use sessions::{Expiry, SessionWithLink, Sessions};
pub use staff::{AuditLog, StaffStore, MAX_BRANDING_VERSIONS};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store did not answer (down, timed out, failing over): retry later, answer 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Corrupt(#[from] CorruptSession),
    /// A record (or a script's reply) that does not decode: retrying will not help, answer 500.
    #[error("unreadable record at {key}: {problem}")]
    CorruptRecord { key: String, problem: String },
}

impl StoreError {
    pub fn corrupt(key: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        Self::CorruptRecord {
            key: key.into(),
            problem: problem.to_string(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How long stored records live (SPEC §11).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A session (its hash, its timeline, its owner's index) is kept this long after it
    /// finishes or its deadline passes (`sessions.retention`).
    pub sessions: std::time::Duration,
    /// A link (its hash, its timelines, its owner's index) is kept this long after its latest
    /// activity: a success naming it, a claim, a webhook (`links.retention`).
    pub links: std::time::Duration,
}

impl Retention {
    /// Sessions and links kept for the same time (tests).
    pub fn both(ttl: std::time::Duration) -> Self {
        Self {
            sessions: ttl,
            links: ttl,
        }
    }

    /// Milliseconds a session lives from its creation: until its deadline, then its retention.
    pub fn session_ms_from_creation(&self, created_at: i64, deadline: i64) -> i64 {
        (deadline - created_at).max(0) + self.sessions.as_millis() as i64
    }

    pub fn sessions_ms(&self) -> i64 {
        self.sessions.as_millis() as i64
    }

    pub fn links_ms(&self) -> i64 {
        self.links.as_millis() as i64
    }
}

impl From<std::time::Duration> for Retention {
    fn from(ttl: std::time::Duration) -> Self {
        Self::both(ttl)
    }
}

impl Default for Retention {
    /// Sessions a week after they finish, links 400 days after their latest activity.
    fn default() -> Self {
        Self {
            sessions: std::time::Duration::from_secs(7 * 24 * 3600),
            links: std::time::Duration::from_secs(400 * 24 * 3600),
        }
    }
}

/// Durability asked of Redis before an answer that Belvo or the widget will not repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Durability {
    /// Replicas that must acknowledge (`WAIT`); 0 waits for none.
    pub replicas: u32,
    pub timeout: std::time::Duration,
}

/// The whole store, one handle for callers: every area's trait, implemented by both stores.
pub trait Store:
    Sessions
    + Links
    + Attempts
    + StaffStore
    + LinkHealthStore
    + Outbox
    + Deliveries
    + InstitutionStore
    + FunnelStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: Sessions
        + Links
        + Attempts
        + StaffStore
        + LinkHealthStore
        + Outbox
        + Deliveries
        + InstitutionStore
        + FunnelStore
        + Send
        + Sync
        + 'static
{
}

pub type DynStore = Arc<dyn Store>;
