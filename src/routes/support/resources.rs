//! Resource readiness and link verification as support reads them.

use crate::domain::session::Session;
use crate::domain::webhook::{LinkState, Readiness};
use crate::state::AppState;

pub struct ResourceRow {
    pub name: String,
    pub status: &'static str,
    pub total: String,
    pub error_code: String,
}

/// Each resource the product fetches (pending until its webhook arrives), plus any other one
/// Belvo reported for this session's link.
pub fn resources(
    state: &AppState,
    session: &Session,
    link: Option<&LinkState>,
) -> Vec<ResourceRow> {
    if session.link_id.is_none() {
        return Vec::new();
    }
    let mut rows: Vec<ResourceRow> = state
        .settings
        .products
        .get(&session.record.product)
        .map(|p| {
            p.fetch_resources
                .iter()
                .map(|r| ResourceRow {
                    name: r.to_string(),
                    status: "pending",
                    total: String::new(),
                    error_code: String::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    let own = link.filter(|l| l.session == Some(session.record.id) && l.external_id_consistent());
    for (name, state) in own.map(|l| &l.resources).into_iter().flatten() {
        let row = ResourceRow {
            name: name.clone(),
            status: match state.status {
                Readiness::Pending => "pending",
                Readiness::Ready => "ready",
                Readiness::Failed => "failed",
            },
            total: state.total.map(|t| t.to_string()).unwrap_or_default(),
            error_code: state.error_code.clone().unwrap_or_default(),
        };
        match rows.iter_mut().find(|r| r.name == *name) {
            Some(existing) => *existing = row,
            None => rows.push(row),
        }
    }
    rows
}

pub struct Verification {
    /// `ok`, `bad`, `pending` or `none`: the badge's color.
    pub class: &'static str,
    pub text: &'static str,
}

/// Whether Belvo's own record of the link matched this session (SPEC §5).
pub fn verification(session: &Session, link: Option<&LinkState>) -> Verification {
    let (class, text) = match (session.link_id, link) {
        (None, _) => ("none", "No link yet."),
        (Some(_), None) => ("pending", "Checking with Belvo…"),
        (Some(_), Some(l)) if l.session != Some(session.record.id) => (
            "bad",
            "Another session reported this link first: it is not this session's.",
        ),
        (Some(_), Some(l)) if l.mismatches > 0 || !l.external_id_consistent() => (
            "bad",
            "Belvo's webhooks for this link name another user: their data is not shown.",
        ),
        (Some(_), Some(l)) => match l.verified {
            Some(true) => (
                "ok",
                "Verified: Belvo's record of the link belongs to this user.",
            ),
            Some(false) => (
                "bad",
                "Not verified: Belvo's record of the link does not match.",
            ),
            None => ("pending", "Checking with Belvo…"),
        },
    };
    Verification { class, text }
}
