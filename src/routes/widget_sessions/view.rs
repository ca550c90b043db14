//! The JSON shape of a session for the app.

use std::collections::BTreeMap;

use serde::Serialize;

use super::show::Until;
use super::Loaded;
use crate::domain::explanation::{explain, Explanation, Lang};
use crate::domain::session::{rfc3339, ExitInfo, Millis, SessionMode, Status, Warning};
use crate::domain::webhook::{Readiness, ResourceState};
use crate::state::AppState;

/// A widget session as the app sees it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionView<'a> {
    #[schema(format = Uuid)]
    session_id: String,
    product: &'a str,
    /// ios, android or web.
    platform: &'static str,
    status: Status,
    #[schema(format = Uuid)]
    link_id: Option<String>,
    institution: Option<&'a str>,
    /// Belvo confirmed the link belongs to this session (`null` until checked).
    link_verified: Option<bool>,
    last_error: Option<LastError<'a>>,
    exit: Option<&'a ExitInfo>,
    warnings: Vec<WarningView<'a>>,
    /// Readiness of each resource Belvo fetches for the link, from its webhooks.
    resources: BTreeMap<String, ResourceView>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The session's deadline: after it, a session still pending reads `expired`.
    #[schema(format = DateTime)]
    expires_at: String,
    /// `connect` (a new link) or `update` (repairing `link_id` in Belvo's update mode).
    mode: SessionMode,
    /// When `widget_url` was first opened (`null` until then), and how many times.
    #[schema(format = DateTime, required = true)]
    opened_at: Option<String>,
    opens: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LastError<'a> {
    code: &'a str,
    message: Option<&'a str>,
    explanation: Explanation,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Warning)]
struct WarningView<'a> {
    code: &'a str,
    message: Option<&'a str>,
    at: String,
    explanation: Explanation,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Resource)]
struct ResourceView {
    status: Readiness,
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
}

impl From<&ResourceState> for ResourceView {
    fn from(s: &ResourceState) -> Self {
        Self {
            status: s.status,
            total: s.total,
            error_code: s.error_code.clone(),
        }
    }
}

impl<'a> SessionView<'a> {
    pub fn new(loaded: &'a Loaded, state: &AppState, now: Millis, lang: Lang) -> Self {
        let s = &loaded.session;
        Self {
            session_id: s.record.id.to_string(),
            product: s.record.product.as_str(),
            platform: s.record.platform.as_str(),
            status: s.status_at(now),
            link_id: s.link_id.map(|l| l.to_string()),
            institution: s.institution.as_deref(),
            // A link another session claimed first is not this session's, unless this session
            // repairs it (update mode: the link is the owner's, named from the start).
            link_verified: loaded.link.as_ref().and_then(|l| {
                let repairs = s.record.mode == SessionMode::Update
                    && l.owner.as_ref() == Some(&s.record.owner);
                if l.session == Some(s.record.id) || repairs {
                    l.verified
                } else {
                    Some(false)
                }
            }),
            last_error: s.last_error.as_ref().map(|e| LastError {
                code: &e.code,
                message: e.message.as_deref(),
                explanation: explain(&e.code, lang),
            }),
            exit: s.exit.as_ref(),
            warnings: s.warnings.iter().map(|w| warning(w, lang)).collect(),
            resources: resources(loaded, state),
            created_at: rfc3339(s.record.created_at),
            updated_at: rfc3339(s.updated_at),
            expires_at: rfc3339(s.record.deadline),
            mode: s.record.mode,
            opened_at: s.opened_at.map(rfc3339),
            opens: s.opens,
        }
    }

    /// Whether a long-poll waiting `until` this may answer.
    pub fn settled(&self, until: Until) -> bool {
        let status_settled = self.status != Status::Pending;
        match until {
            Until::Status => status_settled,
            Until::Resources => {
                let pending = self
                    .resources
                    .values()
                    .any(|r| r.status == Readiness::Pending);
                status_settled
                    && (self.status != Status::Succeeded
                        || (self.link_verified.is_some() && !pending))
            }
        }
    }
}

/// Every resource the product fetches (pending until its webhook arrives), plus any other
/// resource Belvo reported. Nothing is shown from webhooks whose external_id was not the owner's.
fn resources(loaded: &Loaded, state: &AppState) -> BTreeMap<String, ResourceView> {
    let s = &loaded.session;
    if s.link_id.is_none() {
        return BTreeMap::new();
    }
    let pending = ResourceState::pending();
    let mut out: BTreeMap<String, ResourceView> = state
        .settings
        .products
        .get(&s.record.product)
        .map(|p| {
            p.fetch_resources
                .iter()
                .map(|r| (r.to_string(), (&pending).into()))
                .collect()
        })
        .unwrap_or_default();
    let own = |l: &&crate::domain::webhook::LinkState| {
        l.session == Some(s.record.id) && l.external_id_consistent()
    };
    if let Some(link) = loaded.link.as_ref().filter(own) {
        for (resource, state) in &link.resources {
            out.insert(resource.clone(), state.into());
        }
    }
    out
}

fn warning(w: &Warning, lang: Lang) -> WarningView<'_> {
    WarningView {
        code: &w.code,
        message: w.message.as_deref(),
        at: rfc3339(w.at),
        explanation: explain(&w.code, lang),
    }
}
