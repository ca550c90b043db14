//! [`InstitutionStore`] in memory: the same records as Redis, signals dropped past the window.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::institution::StatusReport;
use crate::domain::session::Millis;
use crate::store::institutions::merge_report;
use crate::store::{InstitutionStore, StoreResult};

/// Reports by institution; signals by institution: member → time.
#[derive(Default)]
pub(super) struct InstitutionData {
    reports: BTreeMap<String, StatusReport>,
    signals: BTreeMap<String, BTreeMap<String, Millis>>,
}

#[async_trait]
impl InstitutionStore for MemoryStore {
    async fn report_status(&self, code: &str, report: &StatusReport) -> StoreResult<StatusReport> {
        let mut inner = self.inner.lock().expect("memory store lock");
        let reports = &mut inner.institutions.reports;
        let kept = merge_report(reports.get(code), report);
        reports.insert(code.to_owned(), kept.clone());
        Ok(kept)
    }

    async fn status_reports(&self) -> StoreResult<BTreeMap<String, StatusReport>> {
        let inner = self.inner.lock().expect("memory store lock");
        Ok(inner.institutions.reports.clone())
    }

    async fn note_signal(
        &self,
        code: &str,
        member: &str,
        at: Millis,
        window: Duration,
    ) -> StoreResult<()> {
        let mut inner = self.inner.lock().expect("memory store lock");
        let signals = inner
            .institutions
            .signals
            .entry(code.to_owned())
            .or_default();
        signals.insert(member.to_owned(), at);
        let oldest = at - window.as_millis() as Millis;
        signals.retain(|_, t| *t > oldest);
        Ok(())
    }

    async fn institution_health(
        &self,
        codes: &[String],
        since: Millis,
    ) -> StoreResult<(
        BTreeMap<String, StatusReport>,
        BTreeMap<String, Vec<Millis>>,
    )> {
        let inner = self.inner.lock().expect("memory store lock");
        let data = &inner.institutions;
        let times = codes
            .iter()
            .map(|code| {
                let mut times: Vec<Millis> = data
                    .signals
                    .get(code)
                    .into_iter()
                    .flat_map(|s| s.values().copied())
                    .filter(|t| *t >= since)
                    .collect();
                times.sort_unstable();
                (code.clone(), times)
            })
            .collect();
        Ok((data.reports.clone(), times))
    }
}
