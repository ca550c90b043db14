//! `GET /callbacks/{session_id}/{kind}`: where the hosted widget sends the webview (SPEC §5).
//! Validates Belvo's query string, records the event in one store round trip, then sends the
//! webview back to the app's configured deeplink (never a URL from the request) or, with
//! `?format=html` or a platform without a deeplink, shows a result page.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::config::BelvoEnvironment;
use crate::domain::callback::{CallbackEvent, CallbackKind};
use crate::domain::explanation::{explain, Explanation};
use crate::domain::ids::SessionId;
use crate::domain::session::{Applied, Status, ACCESS_TOKEN_NOT_VALID};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::pages::{error_page, html};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "callback_result.html")]
struct ResultPage<'a> {
    kind: &'a str,
    status: &'a str,
    headline: &'a str,
    detail: Option<String>,
    explanation: Option<Explanation>,
    session_id: String,
    /// Embedded mode: offer the way back to `/demo`.
    demo: bool,
    /// The session's `widget_url`, when the widget can be opened again.
    reopen: Option<String>,
}

/// Where Belvo's widget sends the webview: records the event, then redirects to the app's
/// configured deeplink (`{app.deeplink_base}belvo/{kind}?session_id=..&status=..`), or shows a
/// result page (`?format=html`, or a platform without a deeplink).
#[utoipa::path(
    get,
    path = "/callbacks/{session_id}/{kind}",
    tag = "callbacks",
    params(
        ("session_id" = String, Path, format = Uuid),
        ("kind" = inline(CallbackKind), Path),
        ("link" = Option<String>, Query, format = Uuid, description = "success: Belvo's link id"),
        ("institution" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{0,64}$", description = "success"),
        ("last_encountered_error_code" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{0,64}$", description = "exit"),
        ("last_encountered_error_message" = Option<String>, Query, max_length = 1024, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", description = "exit: at most 1 KiB, no control characters"),
        ("meta_data_institution_name" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{0,64}$", description = "exit"),
        ("meta_data_step" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{0,64}$", description = "exit"),
        ("error" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{0,64}$", description = "error event (also on the exit URL)"),
        ("error_message" = Option<String>, Query, max_length = 1024, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", description = "error event: at most 1 KiB, no control characters"),
        ("warning" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{0,64}$", description = "warning event"),
        ("warning_message" = Option<String>, Query, max_length = 1024, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", description = "warning event: at most 1 KiB, no control characters"),
        ("format" = Option<String>, Query, description = "`html`: a result page instead of the redirect (as does `Accept: text/html`), errors included"),
    ),
    responses(
        (status = 302, description = "Back to the app's deeplink"),
        (status = 200, description = "The result page", content_type = "text/html"),
        (status = 400, description = "Malformed values: recorded nowhere", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 404, description = "Unknown session", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 410, description = "session_expired", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, description = "Storage briefly unavailable; retry", content((ErrorBody = "application/json"), (String = "text/html"))),
    )
)]
pub async fn callback(
    state: web::Data<AppState>,
    path: Result<web::Path<(SessionId, CallbackKind)>, actix_web::Error>,
    req: HttpRequest,
) -> HttpResponse {
    // A malformed id or kind is an unknown page, answered like an unknown session.
    let handled = match path {
        Ok(path) => {
            let (id, kind) = path.into_inner();
            handle(&state, id, kind, &req).await
        }
        Err(_) => Err(not_found()),
    };
    match handled {
        Ok(response) => response,
        Err(e) if wants_html(&req) => error_page(
            e.status(),
            e.status().canonical_reason().unwrap_or("Error"),
            &e.message,
        ),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

async fn handle(
    state: &AppState,
    id: SessionId,
    kind: CallbackKind,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::from(ErrorCode::InvalidCallback))?;
    let event = CallbackEvent::parse(kind, &pairs)
        .map_err(|e| ApiError::new(ErrorCode::InvalidCallback, e.to_string()))?;
    let applied = state.sessions.record(&id, &event, "callback").await?;
    state.institutions.note(&id, &event, &applied);
    let (status, platform) = match applied.state() {
        Some(s) => s,
        None if applied == Applied::Expired => {
            return Err(ApiError::new(
                ErrorCode::SessionExpired,
                "this widget session has expired; start again from the app",
            ))
        }
        None => return Err(not_found()),
    };
    let html_requested = pairs.iter().any(|(k, v)| k == "format" && v == "html");
    let deeplink = state.settings.app.deeplink_base.get(&platform);
    match deeplink {
        Some(base) if !html_requested => Ok(redirect(base.as_str(), &event, &id, status)),
        _ => {
            let demo = state.settings.belvo.environment == BelvoEnvironment::Embedded;
            Ok(result_page(&event, &id, status, demo, req))
        }
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("widget session")
}

/// `{deeplink_base}/belvo/{kind}?session_id=..&status=..`: only configured values and our own.
fn redirect(base: &str, event: &CallbackEvent, id: &SessionId, status: Status) -> HttpResponse {
    let separator = if base.ends_with('/') { "" } else { "/" };
    let location = format!(
        "{base}{separator}belvo/{}?session_id={id}&status={}",
        event.kind(),
        status.as_str()
    );
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn result_page(
    event: &CallbackEvent,
    id: &SessionId,
    status: Status,
    demo: bool,
    req: &HttpRequest,
) -> HttpResponse {
    let lang = crate::routes::request_lang(req);
    let headline = match status {
        Status::Succeeded => "Account connected",
        Status::Exited => "Connection closed",
        Status::Failed => "The connection failed",
        Status::Pending => "Still connecting",
        Status::Expired => "This connection expired",
    };
    let (detail, code) = match event {
        CallbackEvent::Success { institution, .. } => {
            (Some(format!("Connected through {institution}.")), None)
        }
        CallbackEvent::Exit {
            last_encountered_error_code,
            last_encountered_error_message,
            ..
        } => (
            last_encountered_error_message
                .as_ref()
                .map(|m| m.as_str().to_owned()),
            last_encountered_error_code.as_ref().map(|c| c.as_str()),
        ),
        CallbackEvent::Error {
            error,
            error_message,
        } => (
            error_message.as_ref().map(|m| m.as_str().to_owned()),
            Some(error.as_str()),
        ),
        CallbackEvent::Warning {
            warning,
            warning_message,
        } => (
            warning_message.as_ref().map(|m| m.as_str().to_owned()),
            Some(warning.as_str()),
        ),
    };
    html(
        StatusCode::OK,
        &ResultPage {
            kind: event.kind(),
            status: status.as_str(),
            headline,
            detail,
            explanation: code.map(|c| explain(c, lang)),
            session_id: id.to_string(),
            demo,
            // A token that expired leaves the session pending: offer its widget_url again.
            reopen: (status == Status::Pending && code == Some(ACCESS_TOKEN_NOT_VALID))
                .then(|| format!("/w/{id}")),
        },
    )
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
        || req.query_string().contains("format=html")
}
