//! After a success callback, check Belvo's own record of the link (`GET /api/links/{id}/`): its
//! `external_id` and institution must be the session's. A forged success (someone else's link)
//! ends up visibly unverified and its data is not served.
//!
//! The verification is a due entry in the store's schedule before it starts, so when this
//! process stops before it is done the scheduler (`crate::scheduler`) of any replica
//! finishes it.

use std::sync::Arc;
use std::time::Duration;

use crate::belvo::{BelvoClient, BelvoError};
use crate::domain::funnel::{self, KnownInstitutions};
use crate::domain::health::BelvoRecord;
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{now_millis, Millis, SessionMode};
use crate::domain::verification::{Matched, Verification};
use crate::domain::webhook::LinkClaim;
use crate::links::health;
use crate::store::{DueEntry, DynStore};

const ATTEMPTS: u32 = 4;

/// How long a claimed (or just started) verification stays out of the due set before it is
/// tried again.
pub const VERIFY_LEASE: Duration = Duration::from_secs(60);

/// Whether a verification is finished or must be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Retry,
}

/// Runs the check in the background; the result lands in the store (and wakes waiters).
/// `known` names the institutions the funnel counts by name (SPEC §14).
pub fn spawn(
    belvo: BelvoClient,
    store: DynStore,
    session_id: SessionId,
    link: LinkId,
    check_every: Duration,
    known: Arc<KnownInstitutions>,
) {
    actix_web::rt::spawn(async move {
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            // Each attempt (re)takes the verification's lease on the schedule as it starts.
            let lease = Some(now_millis() + VERIFY_LEASE.as_millis() as i64);
            let verdict =
                verify_once(&belvo, &store, session_id, link, lease, check_every, &known).await;
            if verdict == Verdict::Done {
                return;
            }
            tracing::info!(attempt, "link verification failed; retrying");
            tokio::time::sleep(wait).await;
            wait *= 3;
        }
        tracing::warn!(%link, "link verification left to the scheduler");
    });
}

/// One attempt: reads Belvo's record and records the verdict with all it implies in one store
/// call, which also takes the verification off the schedule (`Done`). With `lease_until` (the
/// callback's task) the verification is put on the schedule until then as its session is read,
/// in the same round trip; the scheduler passes `None`, its claim holds the lease already. A
/// verified link counts the funnel's `link_verified` step under its session (and
/// `resources_ready`, when its webhooks came first), its institution counted by name only when
/// `known`.
pub async fn verify_once(
    belvo: &BelvoClient,
    store: &DynStore,
    session_id: SessionId,
    link: LinkId,
    lease_until: Option<Millis>,
    check_every: Duration,
    known: &KnownInstitutions,
) -> Verdict {
    let read = store.verification_session(&session_id, &link, lease_until);
    let session = match read.await {
        Ok(Some(session)) => session,
        Ok(None) => {
            // Nothing left to verify for: the session is gone (its retention ended).
            let entry = DueEntry::Verify {
                session: session_id,
                link,
            };
            if let Err(e) = store.unschedule(&entry).await {
                tracing::warn!(error = %e, "verification of a gone session left scheduled");
            }
            return Verdict::Done;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the session to verify its link");
            return Verdict::Retry;
        }
    };
    let matched = match belvo.link(&link).await {
        Ok(found) => {
            let verified = found.external_id.as_deref() == Some(session.record.owner.as_str())
                && Some(found.institution.as_str()) == session.institution.as_deref();
            if !verified {
                tracing::warn!(%link, "link does not match its session: not verified");
            }
            verified.then(|| Matched {
                claim: LinkClaim {
                    owner: session.record.owner.clone(),
                    product: session.record.product.clone(),
                    institution: found.institution.clone(),
                    funnel: Some(funnel::link_prefix(&session, known)),
                },
                // A successful reconnect (update mode) of this very link: its credentials
                // work again.
                reconnected: session.record.mode == SessionMode::Update,
                record: found.status.as_deref().and_then(BelvoRecord::from_status),
                first_check_at: health::first_check_at(check_every),
            })
        }
        Err(BelvoError::Rejected { status: 404, .. }) => {
            tracing::warn!(%link, "Belvo does not know this link: not verified");
            None
        }
        Err(e) => {
            tracing::info!(error = %e, "link verification failed");
            return Verdict::Retry;
        }
    };
    let verification = Verification {
        link,
        session: session_id,
        matched,
        now: now_millis(),
    };
    // Everything the link needs is written before the verification is announced, so whoever
    // it wakes finds the link in its owner's list with its health.
    match store.record_verification(&verification).await {
        Ok(transitions) => {
            transitions.iter().for_each(health::noticed);
            Verdict::Done
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not record link verification");
            Verdict::Retry
        }
    }
}
