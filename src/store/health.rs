//! Link health and the link check schedule (SPEC §11): each health fact applied atomically on
//! its link (with a bounded history), an index of the links needing attention per health value,
//! and one sorted set of due times — link checks and unfinished verifications — claimed
//! atomically so two replicas never take the same due entry.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::health::{Health, HealthChange, HealthTransition};
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::Millis;

/// Something the scheduler must do at a due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DueEntry {
    /// Re-read Belvo's record of the link (every `links.check_every`).
    Check(LinkId),
    /// Finish verifying the link a session's success named (§5).
    Verify { session: SessionId, link: LinkId },
    /// Mark a session still pending at its deadline expired and write its `session.expired`
    /// event (only scheduled when events go out).
    Expire(SessionId),
}

impl DueEntry {
    /// Its member in the due set: `c:<link>`, `v:<session>:<link>` or `x:<session>`.
    pub fn member(&self) -> String {
        match self {
            Self::Check(link) => format!("c:{link}"),
            Self::Verify { session, link } => format!("v:{session}:{link}"),
            Self::Expire(session) => format!("x:{session}"),
        }
    }

    pub fn parse(member: &str) -> Option<Self> {
        if let Some(link) = member.strip_prefix("c:") {
            return LinkId::parse(link).ok().map(Self::Check);
        }
        if let Some(session) = member.strip_prefix("x:") {
            return SessionId::parse(session).ok().map(Self::Expire);
        }
        let (session, link) = member.strip_prefix("v:")?.split_once(':')?;
        Some(Self::Verify {
            session: SessionId::parse(session).ok()?,
            link: LinkId::parse(link).ok()?,
        })
    }
}

/// How a claim pushes the due times of what it takes.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRules {
    /// The most entries this claim takes.
    pub batch: usize,
    /// The most entries taken per second by all replicas together (`links.check_rate`).
    pub rate_per_second: u64,
    /// A check's next due time, from now (`links.check_every`).
    pub check_every_ms: i64,
    /// A verification's retry time, from now, unless it is finished first.
    pub verify_lease_ms: i64,
}

/// What a claim took.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    pub entries: Vec<DueEntry>,
    /// How far behind its due time the oldest entry still due is, in ms (0 when none).
    pub overdue_ms: i64,
}

#[async_trait]
pub trait LinkHealthStore: Send + Sync {
    /// Applies one fact to a link's health in one atomic step and keeps a change in the link's
    /// bounded history and in the attention index. `None` when the store knows nothing of the
    /// link (nothing is created).
    async fn apply_health(
        &self,
        link: &LinkId,
        change: &HealthChange,
        now: Millis,
    ) -> StoreResult<Option<HealthTransition>>;

    /// The link's health changes, newest first.
    async fn health_history(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>>;

    /// Links whose health is `health` (not `ok`), most recently changed first, at most `limit`.
    async fn links_with_health(
        &self,
        health: Health,
        limit: usize,
    ) -> StoreResult<Vec<(LinkId, Millis)>>;

    /// Puts `entry` in the due set at `at`; an entry already there keeps its time unless
    /// `replace`.
    async fn schedule(&self, entry: &DueEntry, at: Millis, replace: bool) -> StoreResult<()>;

    /// Takes the entries due by `now` (oldest first, within the rules' batch and rate) and pushes
    /// their due times in the same atomic step.
    async fn claim_due(&self, now: Millis, rules: ClaimRules) -> StoreResult<Claimed>;

    /// Removes `entry` from the due set (a verification done).
    async fn unschedule(&self, entry: &DueEntry) -> StoreResult<()>;

    /// Takes a link that no longer exists here (deleted, or expired by retention) out of the
    /// attention index and the check schedule.
    async fn forget_link_health(&self, link: &LinkId) -> StoreResult<()>;
}
