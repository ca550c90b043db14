//! Institution health (SPEC §14), the service: status-page reports mapped to institutions,
//! the widget's signals counted off the callback path, and each institution's status with its
//! display name for the app, the session answer and the console.

mod names;

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::belvo::BelvoClient;
use crate::config::{BelvoEnvironment, Settings};
use crate::domain::callback::CallbackEvent;
use crate::domain::ids::SessionId;
use crate::domain::institution::{
    ComponentReport, InstitutionHealth, StatusReport, StatusWebhook, StatusWebhookError,
    WidgetSignal,
};
use crate::domain::session::{now_millis, Applied};
use crate::store::{DynStore, StoreResult};

pub use names::DisplayNames;

/// One institution as an app or the console sees it.
#[derive(Debug, Clone)]
pub struct Shown {
    pub health: InstitutionHealth,
    pub display_name: String,
    /// Whether any configured product offers it (a status-page component that maps to no
    /// known institution is kept and shown as unknown).
    pub known: bool,
}

/// The institution health service; cheap to clone (shared parts).
#[derive(Clone)]
pub struct Institutions {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Arc<Settings>,
    store: DynStore,
    names: DisplayNames,
    /// Every institution's health as last read, for session creation (never waits on Redis).
    snapshot: RwLock<Vec<InstitutionHealth>>,
}

impl Institutions {
    /// Builds the service and starts its background refresh (statuses every
    /// `institutions.status_refresh`, names when older than `institutions.names_ttl`); the
    /// refresh ends when the last handle is dropped.
    pub fn start(settings: Arc<Settings>, store: DynStore, belvo: BelvoClient) -> Self {
        let names = DisplayNames::new(belvo, settings.institutions.names_ttl);
        let inner = Arc::new(Inner {
            settings,
            store,
            names,
            snapshot: RwLock::new(Vec::new()),
        });
        tokio::spawn(refresh(Arc::downgrade(&inner)));
        Self { inner }
    }

    /// Every institution some product offers (production and sandbox lists).
    pub fn known(&self) -> BTreeSet<String> {
        self.inner
            .settings
            .products
            .values()
            .flat_map(|p| {
                p.institutions
                    .iter()
                    .chain(p.sandbox_institutions.iter().flatten())
            })
            .map(|code| code.as_str().to_owned())
            .collect()
    }

    /// The institutions a product shows in this environment.
    pub fn of_product(&self, product: &crate::config::ProductSettings) -> Vec<String> {
        let sandbox = self.inner.settings.belvo.environment != BelvoEnvironment::Production;
        product
            .institutions_for(sandbox)
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect()
    }

    /// Records a status-page webhook: each component's status for its institution. Nothing
    /// is recorded when any part of the body is invalid.
    pub async fn report(&self, webhook: &StatusWebhook) -> Result<usize, ReportError> {
        let reports = webhook.reports()?;
        for ComponentReport {
            component,
            status,
            at,
            incident,
        } in &reports
        {
            let code = self.inner.settings.institutions.institution_of(component);
            let report = StatusReport {
                status: *status,
                since: *at,
                at: *at,
                component: component.clone(),
                incident: incident.clone(),
            };
            let kept = self.inner.store.report_status(code, &report).await?;
            tracing::info!(
                institution = code,
                status = kept.status.as_str(),
                "status page report"
            );
        }
        Ok(reports.len())
    }

    /// Counts what a recorded widget event says of an institution, off the callback's path (a
    /// spawned task): the window key is shared by every session, so it is in another slot than
    /// the session's and cannot join the callback's script; a sample lost to a crash only
    /// delays a `degraded` by one signal. Replays and unknown institutions are not counted.
    pub fn note(&self, session_id: &SessionId, event: &CallbackEvent, applied: &Applied) {
        if !matches!(applied, Applied::Recorded { .. }) {
            return;
        }
        let Some(signal) = WidgetSignal::of(event) else {
            return;
        };
        let (this, session_id) = (self.clone(), *session_id);
        tokio::spawn(async move {
            if let Err(e) = this.note_signal(&session_id, signal).await {
                tracing::warn!(error = %e, "institution signal not counted");
            }
        });
    }

    async fn note_signal(&self, session_id: &SessionId, signal: WidgetSignal) -> StoreResult<()> {
        let code = match &signal {
            WidgetSignal::Down(code) => Some(code.clone()),
            // A warning names no institution: the session's, when it offered only one.
            WidgetSignal::Disabled => self
                .inner
                .store
                .session(session_id)
                .await?
                .filter(|s| s.record.institutions.len() == 1)
                .map(|s| s.record.institutions[0].clone()),
        };
        let Some(code) = code.filter(|c: &String| self.known().contains(c.as_str())) else {
            return Ok(());
        };
        let member = format!("{session_id}:{}", signal.kind());
        let window = self.inner.settings.institutions.window;
        self.inner
            .store
            .note_signal(&code, &member, now_millis(), window)
            .await
    }

    /// The health of `codes` now, read from the store (one round trip), with display names
    /// (Belvo's, cached; the code while none is known).
    pub async fn statuses(&self, codes: &[String]) -> StoreResult<Vec<Shown>> {
        let health = self.read(codes).await?;
        let names = self.inner.names.get_or_fetch().await;
        let known = self.known();
        Ok(health
            .into_iter()
            .map(|health| Shown {
                display_name: names
                    .get(&health.code)
                    .cloned()
                    .unwrap_or_else(|| health.code.clone()),
                known: known.contains(&health.code),
                health,
            })
            .collect())
    }

    /// Every institution the console lists: those products offer and those the status page
    /// reported (known or not).
    pub async fn all(&self) -> StoreResult<Vec<Shown>> {
        let mut codes = self.known();
        codes.extend(self.inner.store.status_reports().await?.into_keys());
        self.statuses(&codes.into_iter().collect::<Vec<_>>()).await
    }

    /// `codes`' health from the last background read, for session creation: no round trip.
    /// Before the first read, nothing is known and every one is shown operational.
    pub fn cached(&self, codes: &[String]) -> Vec<Shown> {
        let snapshot = self.inner.snapshot.read().expect("snapshot lock");
        let names = self.inner.names.cached();
        codes
            .iter()
            .map(|code| {
                let health = snapshot
                    .iter()
                    .find(|h| &h.code == code)
                    .cloned()
                    .unwrap_or_else(|| InstitutionHealth::combine(code, None, &[], 1));
                Shown {
                    display_name: names.get(code).cloned().unwrap_or_else(|| code.clone()),
                    known: true,
                    health,
                }
            })
            .collect()
    }

    async fn read(&self, codes: &[String]) -> StoreResult<Vec<InstitutionHealth>> {
        let settings = &self.inner.settings.institutions;
        let since = now_millis() - settings.window.as_millis() as i64;
        let (mut reports, mut times) = self.inner.store.institution_health(codes, since).await?;
        Ok(codes
            .iter()
            .map(|code| {
                let page = reports.remove(code);
                let times = times.remove(code).unwrap_or_default();
                InstitutionHealth::combine(code, page, &times, settings.degraded_threshold)
            })
            .collect())
    }
}

/// Why a status-page webhook was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Invalid(#[from] StatusWebhookError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The background refresh: the snapshot every `status_refresh`, the names when stale.
async fn refresh(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let this = Institutions { inner: strong };
        let every = this.inner.settings.institutions.status_refresh;
        let codes: Vec<String> = this.known().into_iter().collect();
        match this.read(&codes).await {
            Ok(health) => *this.inner.snapshot.write().expect("snapshot lock") = health,
            Err(e) => tracing::warn!(error = %e, "institution statuses not refreshed"),
        }
        this.inner.names.refresh_if_stale().await;
        drop(this);
        tokio::time::sleep(every.max(Duration::from_millis(50))).await;
    }
}
