//! Institution health (SPEC §14): the status page's latest report per institution, and the
//! widget's `institution_down` / `institution_disabled` signals per institution in a sliding
//! window. Every key is under one hash tag (`{institutions}`): the institutions are the
//! configured ones (a bounded, small set), signals are rare, and one read covers them all.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::institution::StatusReport;
use crate::domain::session::Millis;

#[async_trait]
pub trait InstitutionStore: Send + Sync {
    /// Keeps `report` as `code`'s status-page status, unless a later report is kept already;
    /// a report repeating the kept status keeps the kept `since`. Returns what is kept now.
    async fn report_status(&self, code: &str, report: &StatusReport) -> StoreResult<StatusReport>;

    /// Every institution's kept status-page report.
    async fn status_reports(&self) -> StoreResult<BTreeMap<String, StatusReport>>;

    /// Notes one widget signal for `code` (`member` names it, so a replay counts once) at
    /// `at`, dropping signals older than `window`.
    async fn note_signal(
        &self,
        code: &str,
        member: &str,
        at: Millis,
        window: Duration,
    ) -> StoreResult<()>;

    /// The times of each of `codes`' signals since `since`, ascending, with every kept report
    /// (one round trip).
    async fn institution_health(
        &self,
        codes: &[String],
        since: Millis,
    ) -> StoreResult<(
        BTreeMap<String, StatusReport>,
        BTreeMap<String, Vec<Millis>>,
    )>;
}

/// How a kept report and a new one combine (the Redis script does the same).
pub fn merge_report(kept: Option<&StatusReport>, new: &StatusReport) -> StatusReport {
    match kept {
        Some(kept) if kept.at > new.at => kept.clone(),
        Some(kept) if kept.status == new.status => StatusReport {
            since: kept.since,
            ..new.clone()
        },
        _ => new.clone(),
    }
}
