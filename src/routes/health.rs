//! `/healthz` (the process answers) and `/readyz` (it can serve: the store answers).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.shutdown.is_stopping() {
        return HttpResponse::ServiceUnavailable()
            .json(json!({"status": "not_ready", "reason": "shutting down"}));
    }
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "not_ready", "reason": e.to_string()})),
    }
}
