//! The staff audit log: every console action, who did it and to what. Each entry is a log line
//! (target `audit`) and is kept in the store for the `/admin/audit` page.

use crate::domain::session::now_millis;
use crate::domain::staff::AuditEntry;
use crate::state::AppState;

use super::staff::Staff;

/// Records one action. `staff` is `None` before anyone signed in (a failed sign-in). Never fails
/// the request: if the store does not answer, the log line still holds the entry.
pub async fn record(
    state: &AppState,
    staff: Option<&Staff>,
    action: &str,
    target: &str,
    outcome: &str,
) {
    let entry = AuditEntry {
        at: now_millis(),
        actor: staff.map_or("-".into(), |s| s.name.to_string()),
        role: staff.map(|s| s.role),
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: outcome.to_owned(),
        ip: staff.and_then(|s| s.ip).map(|ip| ip.to_string()),
    };
    write(state, entry).await;
}

/// Records an action by someone not (yet) signed in, e.g. a failed sign-in for `actor`.
pub async fn record_anonymous(
    state: &AppState,
    actor: &str,
    ip: Option<std::net::IpAddr>,
    action: &str,
    outcome: &str,
) {
    let entry = AuditEntry {
        at: now_millis(),
        actor: actor.to_owned(),
        role: None,
        action: action.to_owned(),
        target: "console".to_owned(),
        outcome: outcome.to_owned(),
        ip: ip.map(|ip| ip.to_string()),
    };
    write(state, entry).await;
}

async fn write(state: &AppState, entry: AuditEntry) {
    tracing::info!(
        target: "audit",
        actor = %entry.actor,
        role = entry.role.map(|r| r.as_str()),
        action = %entry.action,
        target_id = %entry.target,
        outcome = %entry.outcome,
        ip = entry.ip.as_deref(),
        "staff action"
    );
    if let Err(e) = state.store.record_audit(&entry).await {
        tracing::warn!(error = %e, "audit entry not stored (it is in this log)");
    }
}
