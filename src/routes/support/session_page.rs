//! `/support/sessions/{id}`: one connection attempt — its status at a glance, what went wrong
//! and what the user can do, resource readiness, link verification, and every event.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::resources::{resources, verification, ResourceRow, Verification};
use super::timeline::{merge, TimelineRow};
use crate::auth::{audit, Staff};
use crate::domain::explanation::{explain, Explanation, Lang};
use crate::domain::ids::SessionId;
use crate::domain::session::{now_millis, Session, Status};
use crate::routes::console::{self, human_time, Nav, PageError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    pub lang: String,
}

/// `?lang=es|pt|en`, else the browser's language.
pub fn language(query: &str, req: &HttpRequest) -> Lang {
    Lang::from_primary_tag(query).unwrap_or_else(|| crate::routes::request_lang(req))
}

pub struct LastError {
    pub code: String,
    pub message: String,
    pub explanation: Explanation,
}

#[derive(Template)]
#[template(path = "support/session.html")]
struct SessionPage {
    nav: Option<Nav>,
    lang: &'static str,
    id: String,
    status: &'static str,
    /// One sentence a person grasps at a glance.
    headline: String,
    product: String,
    platform: &'static str,
    institution: String,
    access_mode: &'static str,
    owner: String,
    created: String,
    updated: String,
    token_expires: String,
    link_id: Option<String>,
    verification: Verification,
    last_error: Option<LastError>,
    exit_step: String,
    warnings: usize,
    replays: u32,
    resources: Vec<ResourceRow>,
    timeline: Vec<TimelineRow>,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    path: Result<web::Path<SessionId>, actix_web::Error>,
    query: web::Query<LangQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let not_found = || PageError::NotFound("session");
    let id = path.map_err(|_| not_found())?.into_inner();
    let read = state
        .store
        .session_with_link(&id)
        .await?
        .ok_or_else(not_found)?;
    let (session, link) = (read.session, read.link);
    let timeline = state.store.timeline(&id).await?;
    // Webhooks are this session's only when its link belongs to it.
    let link_timeline = match (&session.link_id, &link) {
        (Some(l), Some(state_of_link)) if state_of_link.session == Some(id) => {
            state.store.link_timeline(l).await?
        }
        _ => Vec::new(),
    };
    audit::record(&state, Some(&staff), "view_session", &id.to_string(), "ok").await;

    let lang = language(&query.lang, &req);
    let status = session.status_at(now_millis());
    let last_error = session.last_error.as_ref().map(|e| LastError {
        code: e.code.clone(),
        message: e.message.clone().unwrap_or_default(),
        explanation: explain(&e.code, lang),
    });
    let page = SessionPage {
        nav: Nav::of(&staff, "support"),
        lang: lang.as_str(),
        id: id.to_string(),
        status: status.as_str(),
        headline: headline(&session, status, last_error.as_ref()),
        product: session.record.product.to_string(),
        platform: session.record.platform.as_str(),
        institution: session.institution.clone().unwrap_or_else(|| "—".into()),
        access_mode: session.record.access_mode.as_str(),
        owner: session.record.owner.to_string(),
        created: human_time(session.record.created_at),
        updated: human_time(session.updated_at),
        token_expires: human_time(session.record.token_expires_at),
        link_id: session.link_id.map(|l| l.to_string()),
        verification: verification(&session, link.as_ref()),
        resources: resources(&state, &session, link.as_ref()),
        last_error,
        exit_step: session
            .exit
            .as_ref()
            .and_then(|e| e.step.clone())
            .unwrap_or_default(),
        warnings: session.warnings.len(),
        replays: session.replays,
        timeline: merge(&timeline, &link_timeline, lang),
    };
    Ok(console::page(StatusCode::OK, &page))
}

fn headline(session: &Session, status: Status, error: Option<&LastError>) -> String {
    let institution = session.institution.as_deref().unwrap_or("the institution");
    match (status, error) {
        (Status::Succeeded, _) => format!("Connected to {institution}."),
        (Status::Pending, _) => "Still open: the widget has not reported an outcome yet.".into(),
        (Status::Expired, _) => "Expired: the user never finished in the widget.".into(),
        (_, Some(e)) => e.explanation.what.to_owned(),
        (Status::Exited, None) => "The user closed the widget without connecting.".into(),
        (Status::Failed, None) => "The connection failed.".into(),
    }
}
