//! Link health as the service sees it (SPEC §11): the facts learnt from LINK webhooks, data
//! calls, Belvo's record and reconnects go through [`apply`], so every change of health passes
//! one place ([`noticed`]) — where the `link.needs_reconnect`, `link.repaired` and
//! `link.gone` events are written with the change (SPEC §13).

use std::time::Duration;

use rand::Rng;

use crate::belvo::{BelvoClient, BelvoError};
use crate::domain::health::{BelvoRecord, Health, HealthChange, HealthTransition};
use crate::domain::ids::LinkId;
use crate::domain::session::{now_millis, Millis};
use crate::store::{DueEntry, DynStore, StoreError};

/// Reading Belvo's record failed, or recording what it said did.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Belvo(#[from] BelvoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies one fact to the link's health; `None` when the store does not know the link.
pub async fn apply(
    store: &DynStore,
    link: &LinkId,
    change: HealthChange,
) -> Result<Option<HealthTransition>, StoreError> {
    let transition = store.apply_health(link, &change, now_millis()).await?;
    if let Some(transition) = &transition {
        noticed(transition);
    }
    Ok(transition)
}

/// The one place a change of health is noticed: logged and counted (its outbound event is
/// written by the store in the same step as the change). For [`apply`], and for a
/// verification's changes, which the store applies with the rest of its record.
pub fn noticed(transition: &HealthTransition) {
    if !transition.changed() {
        return;
    }
    tracing::info!(
        link = %transition.link,
        from = transition.from.unwrap_or(Health::Ok).as_str(),
        to = transition.to.as_str(),
        reason = transition.reason.as_ref().map(|r| r.code.as_str()),
        event = transition.event().map(|e| e.as_str()),
        "link health changed"
    );
    crate::metrics::link_health_changed(transition.to.as_str());
}

/// Reads Belvo's record of the link now and applies what it says (a 404 means gone).
#[tracing::instrument(skip(belvo, store))]
pub async fn check(
    belvo: &BelvoClient,
    store: &DynStore,
    link: &LinkId,
    source: &'static str,
) -> Result<Option<HealthTransition>, CheckError> {
    let record = match belvo.link(link).await {
        Ok(found) => {
            let status = found.status.as_deref().unwrap_or_default();
            match BelvoRecord::from_status(status) {
                Some(record) => record,
                None => {
                    tracing::warn!(%link, status, "Belvo's record has a status we do not know");
                    crate::metrics::link_checked(source, "failed");
                    return Ok(None);
                }
            }
        }
        Err(BelvoError::Rejected { status: 404, .. }) => BelvoRecord::Missing,
        Err(e) => {
            crate::metrics::link_checked(source, "failed");
            return Err(e.into());
        }
    };
    let outcome = if record == BelvoRecord::Missing {
        "gone"
    } else {
        "ok"
    };
    crate::metrics::link_checked(source, outcome);
    Ok(apply(store, link, HealthChange::Record(record)).await?)
}

/// Puts a newly confirmed link on the check schedule at [`first_check_at`] (a link already
/// scheduled keeps its time).
pub async fn schedule_checks(
    store: &DynStore,
    link: &LinkId,
    check_every: Duration,
) -> Result<(), StoreError> {
    let at = first_check_at(check_every);
    store.schedule(&DueEntry::Check(*link), at, false).await
}

/// When a newly confirmed link's first check is due: a random point of the first period, so
/// checks spread evenly over `check_every`.
pub fn first_check_at(check_every: Duration) -> Millis {
    let period = check_every.as_millis().max(1) as i64;
    now_millis() + rand::thread_rng().gen_range(0..period)
}
