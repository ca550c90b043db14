//! One per-user budget for Belvo widget-token requests of every kind (opening a session, and
//! later renewing its token, reconnecting a link, the consent portal): each costs a call to
//! Belvo and a session record kept for days, so one user cannot cause them without bound.

use std::time::Duration;

use crate::config::LimitSettings;
use crate::domain::external_id::ExternalId;
use crate::error::{ApiError, ErrorCode};
use crate::store::DynStore;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Counts one token request for `user`; past `limits.token_requests_per_minute` or
/// `_per_day`, a 429 `too_many_requests` with `retry_after` (the longer wait of the two).
pub async fn spend(
    store: &DynStore,
    limits: &LimitSettings,
    user: &ExternalId,
) -> Result<(), ApiError> {
    let counted = store.count_token_request(user, [MINUTE, DAY]).await?;
    let maxima = [
        ("minute", limits.token_requests_per_minute),
        ("day", limits.token_requests_per_day),
    ];
    let mut retry_after: Option<(Duration, &str)> = None;
    for ((count, left), (name, max)) in counted.into_iter().zip(maxima) {
        if count > max && retry_after.is_none_or(|(longest, _)| left > longest) {
            retry_after = Some((left, name));
        }
    }
    match retry_after {
        None => Ok(()),
        Some((left, name)) => {
            tracing::warn!(window = name, "per-user Belvo token budget spent");
            Err(ApiError::new(
                ErrorCode::TooManyRequests,
                format!("too many widget sessions for this user in the last {name}; retry later"),
            )
            .retry_after(left.as_secs().max(1)))
        }
    }
}
