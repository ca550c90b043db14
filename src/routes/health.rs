//! `/healthz` (the process answers) and `/readyz` (it can serve: the store answers and it is
//! not shutting down).

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::state::AppState;

/// A probe's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (healthz), `ready` or `not_ready` (readyz).
    status: &'static str,
    /// Why not ready: `shutting down`, or the store's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health, example = json!({"status": "ok"})))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        reason: None,
    })
}

/// Readiness: the store answers and the server is not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health, example = json!({"status": "ready"})),
        (status = 503, description = "Not ready: shutting down, or the store does not answer", body = Health,
            example = json!({"status": "not_ready", "reason": "shutting down"})),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let not_ready = |reason: String| {
        HttpResponse::ServiceUnavailable().json(Health {
            status: "not_ready",
            reason: Some(reason),
        })
    };
    if state.shutdown.is_stopping() {
        return not_ready("shutting down".into());
    }
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ready",
            reason: None,
        }),
        Err(e) => not_ready(e.to_string()),
    }
}
