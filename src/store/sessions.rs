//! Sessions and callbacks: a session opened for a user, the widget events applied to it, its
//! timeline, and the announcements that wake waiters on every replica.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{Links, StoreResult};
use crate::domain::external_id::ExternalId;
use crate::domain::ids::SessionId;
use crate::domain::session::{Applied, NewSession, Session, Transition};
use crate::domain::webhook::LinkState;

/// A session and, once it has one, what is known of its link.
#[derive(Debug, Clone)]
pub struct SessionWithLink {
    pub session: Session,
    pub link: Option<LinkState>,
}

#[async_trait]
pub trait Sessions: Links + Send + Sync {
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

    /// Whether the store answers right now (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Session ids whose state changed, from this replica or any other.
    fn subscribe(&self) -> broadcast::Receiver<SessionId>;
}
