//! Links, webhooks and resources: what Belvo's webhooks say of a link, who owns it, whether it
//! was verified, and each user's list of links.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::external_id::ExternalId;
use crate::domain::health::HealthTransition;
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{Millis, Session};
use crate::domain::verification::Verification;
use crate::domain::webhook::{LinkClaim, LinkState, WebhookApplied, WebhookUpdate};

#[async_trait]
pub trait Links: Send + Sync {
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

    /// What a link's verification needs of its session — whose it is, and what the link's
    /// funnel steps count under; the session's other fields stand at neutral values — or `None`
    /// when the session is gone. With `schedule_until`, the verification is put on the schedule
    /// at that time in the same round trip (the callback's task does, so that the scheduler of
    /// any replica finishes it if this one stops).
    async fn verification_session(
        &self,
        session: &SessionId,
        link: &LinkId,
        schedule_until: Option<Millis>,
    ) -> StoreResult<Option<Session>>;

    /// Records what a link's verification found at Belvo in one step (one script on one
    /// server): a matched link is claimed for its owner (as [`Links::claim_link`]), repaired by
    /// an update session's reconnect, given the health Belvo's record shows and put on the check
    /// schedule; then, matched or not, the verdict is kept on the link when it belongs to the
    /// session (as [`Links::set_link_verified`]) and the verification leaves the schedule. The
    /// session's waiters are woken last, so they find the link in its owner's list with its
    /// health. Returns the health changes applied, in order.
    async fn record_verification(&self, v: &Verification) -> StoreResult<Vec<HealthTransition>>;

    /// A user's links.
    async fn user_links(&self, owner: &ExternalId) -> StoreResult<Vec<LinkId>>;

    /// Deletes the link, its timelines and its place in its owner's index, when `owner` owns
    /// it; `false` (nothing changed) otherwise.
    async fn delete_link(&self, link: &LinkId, owner: &ExternalId) -> StoreResult<bool>;
}
