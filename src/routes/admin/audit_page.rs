//! `/admin/audit`: the newest staff actions, who and what (admins only).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::{audit, Admin};
use crate::domain::staff::AuditEntry;
use crate::routes::console::{self, human_time, Nav, PageError};
use crate::state::AppState;
use crate::store::AuditLog;

const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    entries: Vec<(String, AuditEntry)>,
    refused: Vec<(String, AuditEntry)>,
}

pub async fn page(
    state: web::Data<AppState>,
    Admin(staff): Admin,
) -> Result<HttpResponse, PageError> {
    audit::record(&state, Some(&staff), "view_audit", "audit log", "ok").await;
    let dated = |entries: Vec<AuditEntry>| -> Vec<(String, AuditEntry)> {
        entries.into_iter().map(|e| (human_time(e.at), e)).collect()
    };
    let entries = dated(state.store.audit_log(AuditLog::Staff, SHOWN).await?);
    let refused = dated(state.store.audit_log(AuditLog::Refused, SHOWN).await?);
    Ok(console::page(
        StatusCode::OK,
        &AuditPage {
            nav: Nav::of(&staff, "audit"),
            entries,
            refused,
        },
    ))
}
