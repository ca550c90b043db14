//! `POST /v1/widget-sessions/{id}/events`: the callback payloads, for apps that intercept the
//! deeplink in the webview themselves. Body: `{"kind": "success", "link": "...", ...}`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::owned_session;
use crate::auth::AppUser;
use crate::domain::callback::{CallbackEvent, CallbackKind};
use crate::domain::session::Applied;
use crate::domain::session::Status;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::widget::record_event;

/// What recording an event did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventRecorded {
    #[schema(format = Uuid)]
    session_id: String,
    /// The session's status after the event (the first terminal event wins).
    status: Status,
    /// Whether this event changed the session.
    changed: bool,
    /// Whether the same event was recorded before (counted once).
    replay: bool,
}

/// Records a widget event the app intercepted itself: the callback's query parameters as
/// strings, plus `kind`.
#[utoipa::path(
    post,
    path = "/v1/widget-sessions/{session_id}/events",
    tag = "widget sessions",
    params(("session_id" = String, Path, format = Uuid)),
    request_body(
        content = Object,
        description = "`kind` (success, exit, event, error or warning) and the callback's query \
            parameters as strings: `link`, `institution`; `last_encountered_error_code`, \
            `last_encountered_error_message`, `meta_data_institution_name`, `meta_data_step`; \
            `error`, `error_message`; `warning`, `warning_message`.",
        example = json!({"kind": "success", "link": "cb65f82c-dc93-4d3e-8270-9a27528397f5", "institution": "planet_mx_employment"})
    ),
    responses(
        (status = 200, description = "Recorded", body = EventRecorded),
        (status = 400, description = "Invalid event", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 410, description = "The session expired", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
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
            return Err(ApiError::new(
                ErrorCode::InvalidEvent,
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
            ApiError::new(
                ErrorCode::InvalidEvent,
                "`kind` must be success, exit, event, error or warning",
            )
        })?;
    let event = CallbackEvent::parse(kind, &pairs)
        .map_err(|e| ApiError::new(ErrorCode::InvalidEvent, e.to_string()))?;
    let applied = record_event(&state, &session.record.id, &event, "app").await?;
    let (status, changed) = match applied {
        Applied::Recorded {
            status, changed, ..
        } => (status, changed),
        Applied::Replay { status, .. } => (status, false),
        Applied::Missing => return Err(ApiError::not_found("session")),
        Applied::Expired => {
            return Err(ApiError::new(
                ErrorCode::SessionExpired,
                "this session expired; open a new one",
            ))
        }
    };
    Ok(HttpResponse::Ok().json(EventRecorded {
        session_id: session.record.id.to_string(),
        status,
        changed,
        replay: matches!(applied, Applied::Replay { .. }),
    }))
}
