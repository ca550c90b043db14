//! The background link checks (SPEC §11), above the `links` and `sessions` services it runs:
//! every replica runs one [`Scheduler`] that, once a second, claims the entries due in the
//! store's due set — at most `links.check_rate` per second for all replicas together, counted in
//! the store — and runs them: a check re-reads Belvo's record of a link, a verification finishes
//! what a success callback started (so a restart does not lose it), an expiry marks a session
//! still pending at its deadline expired and writes its `session.expired` event (SPEC §13). Claiming pushes each entry's next due time in the same atomic step, so two
//! replicas never run one due entry twice.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::belvo::BelvoClient;
use crate::config::LinkSettings;
use crate::domain::funnel::KnownInstitutions;
use crate::domain::health::Health;
use crate::domain::ids::SessionId;
use crate::domain::session::now_millis;
use crate::sessions::verify::{self, VERIFY_LEASE};
use crate::store::{ClaimRules, DueEntry, DynStore, Expiry};

/// How often each replica looks for due entries.
const TICK: Duration = Duration::from_secs(1);

/// When a check could not read Belvo's record, it is due again this soon (not a whole period
/// later: a failed read is no read).
pub const CHECK_RETRY: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Scheduler {
    belvo: BelvoClient,
    store: DynStore,
    check_every: Duration,
    rate: u32,
    /// The institutions a verification's funnel steps count by name (SPEC §14).
    known: Arc<KnownInstitutions>,
}

impl Scheduler {
    pub fn new(
        belvo: BelvoClient,
        store: DynStore,
        links: &LinkSettings,
        known: Arc<KnownInstitutions>,
    ) -> Self {
        Self {
            belvo,
            store,
            check_every: links.check_every,
            rate: links.check_rate,
            known,
        }
    }

    /// Runs until dropped (aborted with the server).
    pub async fn run(self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.run_due().await;
        }
    }

    /// Claims what is due now and runs it (a few at a time); returns how many it ran.
    pub async fn run_due(&self) -> usize {
        let rules = ClaimRules {
            batch: self.rate as usize,
            rate_per_second: u64::from(self.rate),
            check_every_ms: self.check_every.as_millis() as i64,
            verify_lease_ms: VERIFY_LEASE.as_millis() as i64,
        };
        let claimed = match self.store.claim_due(now_millis(), rules).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim due link checks");
                return 0;
            }
        };
        crate::metrics::link_checks_overdue(claimed.overdue_ms);
        let ran = claimed.entries.len();
        // As many at once as a second may claim (bounded), so slow answers do not lower the rate.
        let at_once = (self.rate as usize).clamp(1, 64);
        futures_util::stream::iter(claimed.entries)
            .for_each_concurrent(at_once, |entry| self.run_one(entry))
            .await;
        ran
    }

    async fn run_one(&self, entry: DueEntry) {
        match entry {
            DueEntry::Check(link) => {
                match self.store.link(&link).await {
                    // Kept read-only until its retention ends: Belvo has nothing to say of it.
                    Ok(Some(state)) if state.health.current() == Health::Gone => return,
                    Ok(Some(state)) if state.product.is_some() => {}
                    Ok(_) => {
                        // Deleted or expired: nothing to check, nothing to list any more.
                        let _ = self.store.forget_link_health(&link).await;
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, %link, "link check skipped");
                        return;
                    }
                }
                if let Err(e) =
                    crate::links::health::check(&self.belvo, &self.store, &link, "schedule").await
                {
                    tracing::info!(error = %e, %link, "link check failed; retried soon");
                    let retry = now_millis() + CHECK_RETRY.as_millis() as i64;
                    if let Err(e) = self.store.schedule(&entry, retry, true).await {
                        tracing::warn!(error = %e, %link, "link check retry not scheduled");
                    }
                }
            }
            DueEntry::Expire(session) => self.expire(&entry, session).await,
            DueEntry::Verify { session, link } => {
                let (belvo, store) = (&self.belvo, &self.store);
                // The claim holds the lease: a finished verification takes itself off the
                // schedule, an unfinished one is tried again when it comes due.
                let known = &self.known;
                verify::verify_once(belvo, store, session, link, None, self.check_every, known)
                    .await;
            }
        }
    }

    /// A session's deadline came: expired with its event unless it finished first. Until this
    /// succeeds the claim's lease keeps the entry in the set, so a replica that stops here does
    /// not lose the event.
    async fn expire(&self, entry: &DueEntry, session: SessionId) {
        match self.store.expire_session(&session, now_millis()).await {
            Ok(Expiry::Expired | Expiry::Nothing) => {
                if let Err(e) = self.store.unschedule(entry).await {
                    tracing::warn!(error = %e, %session, "expired session left scheduled");
                }
            }
            // This replica's clock is behind the one that created it: due at its deadline.
            Ok(Expiry::NotYet(deadline)) => {
                if let Err(e) = self.store.schedule(entry, deadline + 1, true).await {
                    tracing::warn!(error = %e, %session, "session expiry not rescheduled");
                }
            }
            Err(e) => tracing::warn!(error = %e, %session, "session expiry retried later"),
        }
    }
}
