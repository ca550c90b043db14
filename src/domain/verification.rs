//! A link's verification against Belvo's own record (SPEC §5): what it found, for the store to
//! record in one step (issue 19) — the claim, the health, the check schedule and the verdict.

use super::health::BelvoRecord;
use super::ids::{LinkId, SessionId};
use super::session::Millis;
use super::webhook::LinkClaim;

/// What one verification of the link a session's success named found at Belvo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub link: LinkId,
    pub session: SessionId,
    /// `Some` when Belvo's record is the session's (its owner and institution): what the link
    /// then becomes. `None` is the verdict "not verified" (someone else's link, or one Belvo
    /// does not know), which changes nothing else.
    pub matched: Option<Matched>,
    pub now: Millis,
}

/// What a link whose Belvo record matched its session becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The link, claimed for the session's owner (listed in `GET /v1/links`).
    pub claim: LinkClaim,
    /// An update session reconnected this very link: its credentials work again.
    pub reconnected: bool,
    /// The status of Belvo's record, applied to the link's health (`None`: one we do not know).
    pub record: Option<BelvoRecord>,
    /// When the link's first check is due, unless it is on the check schedule already.
    pub first_check_at: Millis,
}
