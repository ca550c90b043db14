//! [`StaffStore`] in memory: the same behaviour as Redis for one process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::MemoryStore;
use crate::domain::branding_version::{BrandingVersion, SaveOutcome};
use crate::domain::ids::ProductName;
use crate::domain::staff::{AuditEntry, SessionTokenHash, StaffSession};
use crate::store::staff::{AuditLog, StaffStore, MAX_AUDIT, MAX_BRANDING_VERSIONS};
use crate::store::StoreResult;

pub(super) struct StaffData {
    inner: Mutex<Data>,
    branding_changes: broadcast::Sender<()>,
}

#[derive(Default)]
struct Data {
    sessions: HashMap<SessionTokenHash, (StaffSession, Instant)>,
    audit: VecDeque<AuditEntry>,
    refused: VecDeque<AuditEntry>,
    current: BTreeMap<ProductName, BrandingVersion>,
    history: HashMap<ProductName, VecDeque<BrandingVersion>>,
}

impl Data {
    fn log(&mut self, log: AuditLog) -> &mut VecDeque<AuditEntry> {
        match log {
            AuditLog::Staff => &mut self.audit,
            AuditLog::Refused => &mut self.refused,
        }
    }
}

impl StaffData {
    pub(super) fn new() -> Self {
        Self {
            inner: Mutex::default(),
            branding_changes: broadcast::channel(16).0,
        }
    }
}

impl MemoryStore {
    fn staff(&self) -> std::sync::MutexGuard<'_, Data> {
        self.staff.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl StaffStore for MemoryStore {
    async fn put_staff_session(
        &self,
        id: &SessionTokenHash,
        session: &StaffSession,
        ttl: Duration,
    ) -> StoreResult<()> {
        let now = Instant::now();
        let mut data = self.staff();
        data.sessions.retain(|_, (_, expires)| *expires > now);
        data.sessions
            .insert(id.clone(), (session.clone(), now + ttl));
        Ok(())
    }

    async fn staff_session(&self, id: &SessionTokenHash) -> StoreResult<Option<StaffSession>> {
        let data = self.staff();
        Ok(data
            .sessions
            .get(id)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(s, _)| s.clone()))
    }

    async fn delete_staff_session(&self, id: &SessionTokenHash) -> StoreResult<()> {
        self.staff().sessions.remove(id);
        Ok(())
    }

    async fn record_audit(&self, log: AuditLog, entry: &AuditEntry) -> StoreResult<()> {
        let mut data = self.staff();
        let entries = data.log(log);
        entries.push_front(entry.clone());
        entries.truncate(MAX_AUDIT);
        Ok(())
    }

    async fn audit_log(&self, log: AuditLog, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        Ok(self.staff().log(log).iter().take(limit).cloned().collect())
    }

    async fn current_branding(&self) -> StoreResult<Vec<BrandingVersion>> {
        Ok(self.staff().current.values().cloned().collect())
    }

    async fn save_branding(&self, version: &BrandingVersion) -> StoreResult<SaveOutcome> {
        let mut data = self.staff();
        let current = data.current.get(&version.product).map_or(0, |v| v.version);
        if current + 1 != version.version {
            return Ok(SaveOutcome::Conflict { current });
        }
        data.current
            .insert(version.product.clone(), version.clone());
        let history = data.history.entry(version.product.clone()).or_default();
        history.push_front(version.clone());
        history.truncate(MAX_BRANDING_VERSIONS);
        drop(data);
        let _ = self.staff.branding_changes.send(());
        Ok(SaveOutcome::Saved)
    }

    async fn branding_history(
        &self,
        product: &ProductName,
        limit: usize,
    ) -> StoreResult<Vec<BrandingVersion>> {
        Ok(self
            .staff()
            .history
            .get(product)
            .map(|h| h.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    fn branding_changes(&self) -> broadcast::Receiver<()> {
        self.staff.branding_changes.subscribe()
    }
}
