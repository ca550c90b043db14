//! `POST /v1/widget-sessions/{id}/events`: the callback payloads, for apps that intercept the
//! deeplink in the webview themselves. Body: `{"kind": "success", "link": "...", ...}`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::owned_session;
use crate::auth::AppUser;
use crate::domain::callback::{CallbackEvent, CallbackKind};
use crate::domain::session::Applied;
use crate::error::ApiError;
use crate::state::AppState;
use crate::widget::record_event;

pub async fn post_event(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<String>,
    body: web::Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let session = owned_session(&state, &user, &path).await?;
    let mut pairs = Vec::new();
    let mut kind = None;
    for (key, value) in body.into_inner() {
        let serde_json::Value::String(value) = value else {
            return Err(ApiError::bad_request(
                "invalid_event",
                format!("`{key}` must be a string, as in the callback query"),
            ));
        };
        if key == "kind" {
            kind = Some(value);
        } else {
            pairs.push((key, value));
        }
    }
    let kind = kind
        .as_deref()
        .and_then(CallbackKind::parse)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_event",
                "`kind` must be success, exit, event, error or warning",
            )
        })?;
    let event = CallbackEvent::parse(kind, &pairs)
        .map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    let applied = record_event(&state, &session.record.id, &event, "app").await?;
    let (status, changed) = match applied {
        Applied::Recorded {
            status, changed, ..
        } => (status, changed),
        Applied::Replay { status, .. } => (status, false),
        Applied::Missing => return Err(ApiError::not_found("session")),
        Applied::Expired => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::GONE,
                "session_expired",
                "this session expired; open a new one",
            ))
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "session_id": session.record.id,
        "status": status,
        "changed": changed,
        "replay": matches!(applied, Applied::Replay { .. }),
    })))
}
