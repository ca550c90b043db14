//! Sessions and callbacks: a session opened for a user, the widget events applied to it, its
//! timeline, and the announcements that wake waiters on every replica.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{Links, StoreResult};
use crate::domain::external_id::ExternalId;
use crate::domain::ids::SessionId;
use crate::domain::session::{
    AccessToken, Applied, Millis, NewSession, Session, Transition, WidgetOpening,
};
use crate::domain::webhook::LinkState;

/// A session and, once it has one, what is known of its link.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWithLink {
    pub session: Session,
    pub link: Option<LinkState>,
}

/// What [`Sessions::expire_session`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// It was pending past its deadline: now stored `expired`, its event written.
    Expired,
    /// Still pending, due at this deadline (a clock behind another replica's).
    NotYet(Millis),
    /// Finished (or already expired), or gone: nothing to do.
    Nothing,
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

    /// `/w/{id}`: counts an opening of a pending session (first `opened_at`, `opens`), forgets
    /// its event fingerprints, and reads it with its current widget token.
    async fn open_widget(&self, id: &SessionId, now: Millis) -> StoreResult<WidgetOpening>;

    /// Marks that this replica renews the session's widget token, for at most `hold`; `false`
    /// when another renewal is under way (one Belvo token request at a time per session).
    async fn begin_renewal(&self, id: &SessionId, hold: Duration) -> StoreResult<bool>;

    /// Keeps the renewed token on the session and ends the renewal.
    async fn store_token(
        &self,
        id: &SessionId,
        token: &AccessToken,
        expires_at: Millis,
    ) -> StoreResult<()>;

    /// The session's current widget token and its expiry (a replica waiting for another's
    /// renewal reads it); none for an unknown session or one without a token.
    async fn current_token(&self, id: &SessionId) -> StoreResult<Option<(AccessToken, Millis)>>;

    /// Ends a renewal that failed, so the next opening may try again at once.
    async fn end_renewal(&self, id: &SessionId) -> StoreResult<()>;

    /// A session still pending past its deadline at `now` becomes `expired` and, in the same
    /// atomic step, its `session.expired` event goes to its shard's outbox; the change is
    /// announced. A session that finished first is left as it is, with no event.
    async fn expire_session(&self, id: &SessionId, now: Millis) -> StoreResult<Expiry>;

    /// The session's timeline, oldest first (each entry a JSON object with `kind`, `at`, `effect`).
    async fn timeline(&self, id: &SessionId) -> StoreResult<Vec<serde_json::Value>>;

    /// Whether the store answers right now (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Session ids whose state changed, from this replica or any other.
    fn subscribe(&self) -> broadcast::Receiver<SessionId>;
}
