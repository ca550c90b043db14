//! After a success callback, check Belvo's own record of the link (`GET /api/links/{id}/`): its
//! `external_id` and institution must be the session's. A forged success (someone else's link)
//! ends up visibly unverified and its data is not served.

use std::time::Duration;

use crate::belvo::{BelvoClient, BelvoError};
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::webhook::LinkClaim;
use crate::store::DynStore;

const ATTEMPTS: u32 = 4;

/// Runs the check in the background; the result lands in the store (and wakes waiters).
pub fn spawn(belvo: BelvoClient, store: DynStore, session_id: SessionId, link: LinkId) {
    actix_web::rt::spawn(async move {
        let session = match store.session(&session_id).await {
            Ok(Some(session)) => session,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not start link verification");
                return;
            }
        };
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match belvo.link(&link).await {
                Ok(found) => {
                    let verified = found.external_id.as_deref()
                        == Some(session.record.owner.as_str())
                        && Some(found.institution.as_str()) == session.institution.as_deref();
                    if !verified {
                        tracing::warn!(%link, "link does not match its session: not verified");
                    }
                    if let Err(e) =
                        record(&store, &session, &link, verified, &found.institution).await
                    {
                        tracing::warn!(error = %e, "could not record link verification");
                    }
                    return;
                }
                Err(BelvoError::Rejected { status: 404, .. }) => {
                    tracing::warn!(%link, "Belvo does not know this link: not verified");
                    let _ = store.set_link_verified(&link, &session_id, false).await;
                    return;
                }
                Err(e) => tracing::info!(error = %e, attempt, "link verification failed; retrying"),
            }
            tokio::time::sleep(wait).await;
            wait *= 3;
        }
    });
}

/// Records the verdict; a verified link also becomes its owner's (listed in `GET /v1/links`).
async fn record(
    store: &DynStore,
    session: &crate::domain::session::Session,
    link: &LinkId,
    verified: bool,
    institution: &str,
) -> Result<(), crate::store::StoreError> {
    store
        .set_link_verified(link, &session.record.id, verified)
        .await?;
    if verified {
        let claim = LinkClaim {
            owner: session.record.owner.clone(),
            product: session.record.product.clone(),
            institution: institution.to_owned(),
        };
        store.claim_link(link, &claim).await?;
    }
    Ok(())
}
