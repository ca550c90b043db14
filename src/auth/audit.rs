//! The staff audit log: every console action, who did it and to what. Each entry is a log line
//! (target `audit`) and is kept in the store for the `/admin/audit` page.

use crate::domain::session::now_millis;
use crate::domain::staff::AuditEntry;
use crate::state::AppState;
use crate::store::AuditLog;

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
    write(state, AuditLog::Staff, entry).await;
}

/// Records a successful sign-in by `actor` (`ok_password`, `ok_token`), not signed in until now.
pub async fn record_signed_in(
    state: &AppState,
    actor: &str,
    ip: Option<std::net::IpAddr>,
    outcome: &str,
) {
    let entry = anonymous(actor, ip, "sign_in", outcome);
    write(state, AuditLog::Staff, entry).await;
}

/// Records a refused sign-in (`failed`, `locked_out`, `busy`) in the log of refused attempts,
/// which a flood of them can fill without touching the staff log.
pub async fn record_refused(
    state: &AppState,
    actor: &str,
    ip: Option<std::net::IpAddr>,
    outcome: &str,
) {
    let entry = anonymous(actor, ip, "sign_in", outcome);
    write(state, AuditLog::Refused, entry).await;
}

fn anonymous(actor: &str, ip: Option<std::net::IpAddr>, action: &str, outcome: &str) -> AuditEntry {
    AuditEntry {
        at: now_millis(),
        actor: actor.to_owned(),
        role: None,
        action: action.to_owned(),
        target: "console".to_owned(),
        outcome: outcome.to_owned(),
        ip: ip.map(|ip| ip.to_string()),
    }
}

async fn write(state: &AppState, log: AuditLog, entry: AuditEntry) {
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
    if let Err(e) = state.store.record_audit(log, &entry).await {
        tracing::warn!(error = %e, "audit entry not stored (it is in this log)");
    }
}
