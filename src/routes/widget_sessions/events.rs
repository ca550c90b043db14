//! `POST /v1/widget-sessions/{id}/events`: the callback payloads, for apps that intercept the
//! deeplink in the webview themselves. Body: `{"kind": "success", "link": "...", ...}`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::owned_session;
use crate::auth::AppUser;
use crate::domain::callback::{CallbackEvent, CallbackKind};
use crate::domain::ids::SessionId;
use crate::domain::session::Applied;
use crate::domain::session::Status;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

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

/// The body: `kind` and the callback's query parameters for that kind, as strings (other
/// keys are ignored). Documentation only: the handler reads the object key by key.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"kind": "success", "link": "cb65f82c-dc93-4d3e-8270-9a27528397f5", "institution": "planet_mx_employment"}))]
#[allow(dead_code)]
pub struct EventBody {
    #[schema(inline)]
    kind: crate::domain::callback::CallbackKind,
    /// success: Belvo's link id.
    #[schema(required = false, format = Uuid)]
    link: String,
    /// success.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{0,64}$")]
    institution: String,
    /// exit.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{0,64}$")]
    last_encountered_error_code: String,
    /// exit: at most 1 KiB, no control characters.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    last_encountered_error_message: String,
    /// exit.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{0,64}$")]
    meta_data_institution_name: String,
    /// exit.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{0,64}$")]
    meta_data_step: String,
    /// error (also with kind exit).
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{0,64}$")]
    error: String,
    /// error: at most 1 KiB, no control characters.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    error_message: String,
    /// warning.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{0,64}$")]
    warning: String,
    /// warning: at most 1 KiB, no control characters.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    warning_message: String,
}

/// Records a widget event the app intercepted itself: the callback's query parameters as
/// strings, plus `kind`.
#[utoipa::path(
    post,
    path = "/v1/widget-sessions/{session_id}/events",
    tag = "widget sessions",
    params(("session_id" = String, Path, format = Uuid)),
    request_body = EventBody,
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
    path: web::Path<SessionId>,
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
        .and_then(|k| k.parse::<CallbackKind>().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidEvent,
                "`kind` must be success, exit, event, error or warning",
            )
        })?;
    let event = CallbackEvent::parse(kind, &pairs)
        .map_err(|e| ApiError::new(ErrorCode::InvalidEvent, e.to_string()))?;
    let applied = state
        .sessions
        .record(&session.record.id, &event, "app")
        .await?;
    state
        .institutions
        .note(&session.record.id, &event, &applied);
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
