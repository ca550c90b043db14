//! `/support/institutions`: every institution's health (SPEC §14), the status page's report
//! and the widget's signals side by side, status-page components that map to no configured
//! institution shown as unknown.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::{audit, Staff};
use crate::domain::session::rfc3339;
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;

struct Row {
    code: String,
    display_name: String,
    status: &'static str,
    since: String,
    known: bool,
    page_status: String,
    component: String,
    incident: String,
    signals: usize,
    window_degraded: bool,
}

#[derive(Template)]
#[template(path = "support/institutions.html")]
struct InstitutionsPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
    window: String,
    threshold: u32,
    webhook_on: bool,
}

pub async fn page(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, PageError> {
    let shown = state.institutions.all().await?;
    let rows = shown
        .into_iter()
        .map(|s| {
            let page = s.health.page.as_ref();
            Row {
                display_name: s.display_name.clone(),
                status: s.health.status.as_str(),
                since: s.health.since.map(rfc3339).unwrap_or_default(),
                known: s.known,
                page_status: page
                    .map(|p| p.status.as_str().to_owned())
                    .unwrap_or_default(),
                component: page.map(|p| p.component.clone()).unwrap_or_default(),
                incident: page.and_then(|p| p.incident.clone()).unwrap_or_default(),
                signals: s.health.signals,
                window_degraded: s.health.window_degraded,
                code: s.health.code,
            }
        })
        .collect();
    audit::record(&state, Some(&staff), "list_institutions", "", "ok").await;
    let settings = &state.settings.institutions;
    let page = InstitutionsPage {
        nav: Nav::of(&staff, "institutions"),
        rows,
        window: humantime::format_duration(settings.window).to_string(),
        threshold: settings.degraded_threshold,
        webhook_on: state.settings.secrets.status_webhook_token.is_some(),
    };
    Ok(console::page(StatusCode::OK, &page))
}
