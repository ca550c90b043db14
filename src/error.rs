//! One JSON error body for every failure: `{"error": {"code", "message", "request_id"}}`.
//! Handlers return [`ApiError`]; extractor errors are routed through it too (see `startup`).
//! 5xx details go to the log only. Codes and statuses come from the registry, [`ErrorCode`].

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::belvo::BelvoError;
pub use crate::error_code::ErrorCode;
use crate::store::StoreError;

tokio::task_local! {
    /// The current request's id, set by the request-id middleware for error bodies.
    pub static REQUEST_ID: String;
}

#[derive(Debug, Clone)]
pub struct ApiError {
    /// The registered code; it decides the status.
    pub code: ErrorCode,
    /// A sentence for the developer reading it; never internals.
    pub message: String,
    /// More fields for the error object (e.g. an explanation), when a case needs them.
    pub extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    /// Seconds after which retrying makes sense (`Retry-After` and `retry_after`).
    pub retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// Some errors add fields: `retry_after` (seconds), or an `explanation` of Belvo's refusal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable snake_case code to branch on, e.g. `not_found`, `invalid_json`, `store_unavailable`.
    #[schema(example = "not_found")]
    code: &'a str,
    /// A sentence for the developer reading it.
    message: &'a str,
    /// The request's id, also in the `X-Request-Id` header and on every log line.
    request_id: String,
    /// Seconds after which retrying makes sense (also in `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    extra: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Adds fields to the error object.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value);
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// A 500 whose cause is logged here and never shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        ErrorCode::Internal.into()
    }
}

/// The code's default message.
impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }
}

/// The id of the request being served (empty outside one).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        match self.retry_after {
            Some(seconds) => {
                response.insert_header(("Retry-After", seconds.to_string()));
            }
            None if self.status() == StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header(("Retry-After", "1"));
            }
            None => {}
        }
        let mut response = response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str(),
                message: &self.message,
                request_id: current_request_id(),
                retry_after: self.retry_after,
                extra: self.extra.as_deref(),
            },
        });
        // For the metrics middleware, which counts answers by code.
        response.extensions_mut().insert(self.code);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "store unavailable");
                ErrorCode::StoreUnavailable.into()
            }
            StoreError::Corrupt(_) | StoreError::CorruptRecord { .. } => {
                log_corrupt_once(&e);
                Self::from(ErrorCode::CorruptRecord)
            }
        }
    }
}

/// Logs an unreadable record once per record (per process): every request that meets it fails
/// the same way, and one line with its key is what an operator needs.
pub fn log_corrupt_once(error: &StoreError) {
    static LOGGED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::LazyLock::new(Default::default);
    let what = error.to_string();
    let mut logged = LOGGED.lock().unwrap_or_else(|p| p.into_inner());
    if logged.len() < 10_000 && logged.insert(what.clone()) {
        tracing::error!(error = %what, "stored record cannot be read");
    }
}

impl From<BelvoError> for ApiError {
    fn from(e: BelvoError) -> Self {
        tracing::warn!(error = %e, "belvo call failed");
        match e {
            BelvoError::Timeout(_) => ErrorCode::BelvoTimeout.into(),
            BelvoError::Unreachable(_) | BelvoError::BadResponse(_) => {
                ErrorCode::BelvoUnavailable.into()
            }
            BelvoError::Unauthorized => ErrorCode::BelvoMisconfigured.into(),
            BelvoError::Rejected { code, .. } => Self::new(
                ErrorCode::BelvoRejected,
                format!("Belvo rejected the request ({code})"),
            ),
        }
    }
}
