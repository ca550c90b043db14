//! What every console page shares: the header with who is signed in, the error page, the
//! stylesheet and script, and the Content-Security-Policy (scripts and styles from `/static/`
//! only — nothing inline — plus https images for brand logos in the branding preview).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::Staff;

pub use crate::pages::{console_error, console_page as page, Nav};

impl Nav {
    pub fn of(staff: &Staff, section: &'static str) -> Option<Self> {
        Some(Self {
            name: staff.name.to_string(),
            role: staff.role.as_str(),
            admin: staff.role.is_admin(),
            csrf: staff.csrf_token().to_owned(),
            can_sign_out: staff.has_session(),
            section,
        })
    }
}

/// Console forms and paths that do not parse get the console's error page, not plain text.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(32 * 1024)
        .error_handler(|err, _req: &HttpRequest| {
            let response = console_error(
                StatusCode::BAD_REQUEST,
                "Form not understood",
                "The form sent could not be read. Go back, reload the page and try again.",
            );
            actix_web::error::InternalError::from_response(err, response).into()
        })
}

pub async fn stylesheet() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/console.css"),
    )
}

pub async fn script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/admin.js"),
    )
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body)
}

/// `2026-05-01 14:03:22 UTC` for unix milliseconds.
pub fn human_time(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Why a console page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A query the page cannot answer, with what to change.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Store(crate::store::StoreError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::NotFound(what) => console_error(
                status,
                "Not found",
                &format!("No {what} with that id: it may never have existed, or it has expired."),
            ),
            Self::BadRequest(message) => console_error(status, "Not understood", message),
            Self::Store(e @ crate::store::StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "console page could not read the store");
                console_error(
                    status,
                    "Try again in a moment",
                    "Storage is briefly unavailable.",
                )
            }
            Self::Store(e) => {
                crate::error::log_corrupt_once(e);
                console_error(
                    status,
                    "A stored record cannot be read",
                    "Retrying will not help: the server's log names the record.",
                )
            }
        }
    }
}
