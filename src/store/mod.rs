//! Where sessions live: one trait, a Redis implementation (a single server or a cluster) and an
//! in-memory one that behave the same (all run the same suite in `tests/api/store_suite.rs`).

mod keys;
mod lua;
mod memory;
mod redis;
mod redis_connection;
mod staff;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::domain::external_id::ExternalId;
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{Applied, CorruptSession, NewSession, Session, Transition};
use crate::domain::webhook::{LinkClaim, LinkState, WebhookApplied, WebhookUpdate};

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
pub use self::redis_connection::RedisConnection;
pub use keys::Keys;
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

/// A session and, once it has one, what is known of its link.
#[derive(Debug, Clone)]
pub struct SessionWithLink {
    pub session: Session,
    pub link: Option<LinkState>,
}

/// How long stored records live.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A session record (and its timeline and link index) lives this long after creation.
    pub session_ttl: std::time::Duration,
}

/// Durability asked of Redis before an answer that Belvo or the widget will not repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Durability {
    /// Replicas that must acknowledge (`WAIT`); 0 waits for none.
    pub replicas: u32,
    pub timeout: std::time::Duration,
}

#[async_trait]
pub trait SessionStore: StaffStore + Send + Sync + 'static {
    /// Records a new, pending session (and indexes it under its owner).
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;

    /// A user's most recent sessions, newest first (at most `limit`).
    async fn user_sessions(&self, owner: &ExternalId, limit: usize) -> StoreResult<Vec<SessionId>>;

    /// Reads a session back, `None` when unknown or expired.
    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>>;

    /// Reads a session and, once it names a link, that link's state (what a status read shows).
    /// A store may read both at once: a session names its link once and for good.
    async fn session_with_link(&self, id: &SessionId) -> StoreResult<Option<SessionWithLink>> {
        let Some(session) = self.session(id).await? else {
            return Ok(None);
        };
        let link = match &session.link_id {
            Some(link) => self.link(link).await?,
            None => None,
        };
        Ok(Some(SessionWithLink { session, link }))
    }

    /// Applies one callback event atomically, in a single round trip: the first terminal event
    /// wins, replays are counted once, and the change is published to every replica.
    async fn apply(&self, id: &SessionId, transition: &Transition) -> StoreResult<Applied>;

    /// The session's timeline, oldest first (each entry a JSON object with `kind`, `at`, `effect`).
    async fn timeline(&self, id: &SessionId) -> StoreResult<Vec<serde_json::Value>>;

    /// Records a Belvo webhook on its link in one round trip: deduplicated by `webhook_id`,
    /// never merged when its external_id is not the link owner's, announced to the session's
    /// waiters. Correct in any order relative to the success callback.
    async fn record_webhook(&self, update: &WebhookUpdate) -> StoreResult<WebhookApplied>;

    /// What is known of a link (owner, session, resources, verification), `None` if nothing.
    async fn link(&self, link: &LinkId) -> StoreResult<Option<LinkState>>;

    /// The link's webhook timeline, oldest first.
    async fn link_timeline(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>>;

    /// Records whether Belvo's own record of the link matched its session — only when `session`
    /// is the one the link belongs to, so a forged claim cannot mark someone else's link.
    async fn set_link_verified(
        &self,
        link: &LinkId,
        session: &SessionId,
        verified: bool,
    ) -> StoreResult<()>;

    /// Records a Belvo-confirmed link as its owner's (verified, with product and institution, and
    /// in the owner's link list) — unless another user owns it already. Returns whether it did.
    async fn claim_link(&self, link: &LinkId, claim: &LinkClaim) -> StoreResult<bool>;

    /// A user's links.
    async fn user_links(&self, owner: &ExternalId) -> StoreResult<Vec<LinkId>>;

    /// Counts one attempt for `subject` in a window that starts at its first attempt; returns
    /// the attempts so far (this one included) and the time left in the window.
    async fn count_attempt(
        &self,
        subject: &str,
        window: std::time::Duration,
    ) -> StoreResult<(u64, std::time::Duration)>;

    /// Counts one Belvo token request of `user` in each of `windows` (one round trip); returns
    /// each window's count (this one included) and time left, as [`Self::count_attempt`].
    async fn count_token_request(
        &self,
        user: &ExternalId,
        windows: [std::time::Duration; 2],
    ) -> StoreResult<[(u64, std::time::Duration); 2]>;

    /// Notes `member` among the distinct ones seen for `subject` in a window that starts with
    /// the first: a member seen already is always allowed, a new one only while fewer than
    /// `max` were seen. Returns whether it is allowed and the time left in the window.
    async fn count_distinct(
        &self,
        subject: &str,
        member: &str,
        window: std::time::Duration,
        max: u64,
    ) -> StoreResult<(bool, std::time::Duration)>;

    /// Whether the store answers right now (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Session ids whose state changed, from this replica or any other.
    fn subscribe(&self) -> broadcast::Receiver<SessionId>;
}

pub type DynStore = Arc<dyn SessionStore>;
