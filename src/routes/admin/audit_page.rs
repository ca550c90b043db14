//! `/admin/audit`: the newest staff actions, who and what (admins only).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::{audit, Admin};
use crate::domain::staff::AuditEntry;
use crate::routes::console::{self, human_time, Nav, PageError};
use crate::state::AppState;

const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    entries: Vec<(String, AuditEntry)>,
}

pub async fn page(
    state: web::Data<AppState>,
    Admin(staff): Admin,
) -> Result<HttpResponse, PageError> {
    audit::record(&state, Some(&staff), "view_audit", "audit log", "ok").await;
    let entries = state.store.audit_log(SHOWN).await?;
    Ok(console::page(
        StatusCode::OK,
        &AuditPage {
            nav: Nav::of(&staff, "audit"),
            entries: entries.into_iter().map(|e| (human_time(e.at), e)).collect(),
        },
    ))
}
