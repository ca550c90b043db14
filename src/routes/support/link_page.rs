//! `/support/links/{id}`: a Belvo link — whose it is, the session that made it, its resources,
//! verification and every webhook Belvo sent about it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::rows::SessionRow;
use super::session_page::{language, LangQuery};
use super::timeline::{merge, TimelineRow};
use crate::auth::{audit, Staff};
use crate::domain::consent::LinkConsent;
use crate::domain::explanation::{explain_health, Explanation, Lang};
use crate::domain::health::{Health, LinkHealth};
use crate::domain::ids::LinkId;
use crate::domain::session::{now_millis, rfc3339};
use crate::domain::webhook::Readiness;
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "support/link.html")]
struct LinkPage {
    nav: Option<Nav>,
    lang: &'static str,
    id: String,
    owner: Option<String>,
    sessions: Vec<SessionRow>,
    verified: &'static str,
    mismatches: u32,
    resources: Vec<(String, &'static str, String)>,
    timeline: Vec<TimelineRow>,
    health: HealthPanel,
    consent: Option<ConsentPanel>,
}

/// A Brazil open-finance link's consent (SPEC §12) and the CONSENT webhooks that moved it.
struct ConsentPanel {
    state: &'static str,
    consent_id: String,
    due_at: String,
    changed_at: String,
    explanation: Option<Explanation>,
    /// (at, Belvo's code, what it carried, effect), oldest first as the timeline.
    history: Vec<(String, String, String, String)>,
}

impl ConsentPanel {
    /// The panel, for an open-finance link or one a CONSENT webhook was sent for.
    fn new(
        consent: &LinkConsent,
        open_finance: bool,
        webhooks: &[serde_json::Value],
        lang: Lang,
    ) -> Option<Self> {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let when = |at: Option<i64>| at.map(rfc3339).unwrap_or_else(|| "never".into());
        let history: Vec<_> = webhooks
            .iter()
            .filter(|w| w["webhook_type"] == "CONSENT")
            .map(|w| {
                let data = &w["data"];
                let carried = ["consent_id", "consent_due_date", "institution"]
                    .iter()
                    .filter_map(|k| data[*k].as_str().map(|v| format!("{k}={v}")))
                    .collect::<Vec<_>>()
                    .join(" ");
                (
                    when(w["at"].as_i64()),
                    text(&w["webhook_code"]),
                    carried,
                    text(&w["effect"]),
                )
            })
            .collect();
        if !open_finance && history.is_empty() {
            return None;
        }
        Some(Self {
            state: consent.state.into(),
            consent_id: consent
                .consent_id
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            due_at: consent
                .due_at
                .map(rfc3339)
                .unwrap_or_else(|| "unknown".into()),
            changed_at: when(consent.changed_at),
            explanation: consent
                .state
                .reason_code()
                .map(|code| explain_health(code, lang)),
            history,
        })
    }
}

/// The link's health (SPEC §11) and its latest changes.
struct HealthPanel {
    health: &'static str,
    reason: Option<(String, String, Explanation)>,
    changed_at: String,
    checked_at: String,
    /// (at, from, to, reason code, message), newest first.
    history: Vec<(String, String, String, String, String)>,
}

impl HealthPanel {
    fn new(health: &LinkHealth, history: &[serde_json::Value], lang: Lang) -> Self {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let when = |at: Option<i64>| at.map(rfc3339).unwrap_or_else(|| "never".into());
        Self {
            health: health.current().as_str(),
            reason: health
                .reason
                .as_ref()
                .filter(|_| health.current() != Health::Ok)
                .map(|r| {
                    let message = r.message.clone().unwrap_or_default();
                    (r.code.clone(), message, explain_health(&r.code, lang))
                }),
            changed_at: when(health.changed_at),
            checked_at: when(health.checked_at),
            history: history
                .iter()
                .map(|e| {
                    (
                        when(e["at"].as_i64()),
                        text(&e["from"]),
                        text(&e["to"]),
                        text(&e["code"]),
                        text(&e["message"]),
                    )
                })
                .collect(),
        }
    }
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    path: Result<web::Path<LinkId>, actix_web::Error>,
    query: web::Query<LangQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let not_found = || PageError::NotFound("link");
    let id = path.map_err(|_| not_found())?.into_inner();
    let link = state.store.link(&id).await?.ok_or_else(not_found)?;
    let webhooks = state.store.link_timeline(&id).await?;
    let history = state.store.health_history(&id).await?;
    let sessions = match link.session {
        Some(s) => state.store.session(&s).await?.into_iter().collect(),
        None => Vec::new(),
    };
    audit::record(&state, Some(&staff), "view_link", &id.to_string(), "ok").await;
    let lang = language(&query.lang, &req);
    let now = now_millis();
    let open_finance = link
        .product
        .as_ref()
        .and_then(|p| state.settings.products.get(p))
        .is_some_and(|p| p.open_finance.is_some());
    let page = LinkPage {
        nav: Nav::of(&staff, "support"),
        lang: lang.as_str(),
        id: id.to_string(),
        owner: link.owner.as_ref().map(|o| o.to_string()),
        sessions: sessions.iter().map(|s| SessionRow::new(s, now)).collect(),
        verified: match link.verified {
            Some(true) => "Verified: Belvo's record of the link belongs to its session's user.",
            Some(false) => "Not verified: Belvo's record of the link does not match its session.",
            None => "Not checked (links made through the API, or still checking).",
        },
        mismatches: link.mismatches,
        resources: link
            .resources
            .iter()
            .map(|(name, s)| {
                let status = match s.status {
                    Readiness::Pending => "pending",
                    Readiness::Ready => "ready",
                    Readiness::Failed => "failed",
                };
                (
                    name.clone(),
                    status,
                    s.total.map(|t| t.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        timeline: merge(&[], &webhooks, lang),
        health: HealthPanel::new(&link.health, &history, lang),
        consent: ConsentPanel::new(&link.consent, open_finance, &webhooks, lang),
    };
    Ok(console::page(StatusCode::OK, &page))
}
