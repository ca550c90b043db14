//! `POST /v1/widget-sessions`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::auth::AppUser;
use crate::belvo::types::CallbackUrls;
use crate::domain::session::{rfc3339, SessionMode};
use crate::error::{ApiError, ErrorBody};
use crate::institutions::Shown;
use crate::routes::institutions::InstitutionEntry;
use crate::sessions::{OpenRequest, OpenedSession};
use crate::state::AppState;

/// A session just opened: what the app needs to open the widget.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedSession {
    #[schema(format = Uuid)]
    session_id: String,
    product: String,
    platform: &'static str,
    /// Open this in a webview: this server's `/w/{session_id}`, which sends it on to Belvo's
    /// hosted widget with a usable access token (renewed when needed). Reopen it at any time
    /// until `expires_at`.
    #[schema(example = "https://bff.example.com/w/5f0c2a4e-8f5e-4a8e-9d5c-1b2c3d4e5f60")]
    widget_url: String,
    /// The session's deadline (`sessions.pending_timeout` after creation): after it, a session
    /// still pending is `expired`.
    #[schema(format = DateTime)]
    expires_at: String,
    /// `connect` (a new link) or `update` (repairing `link_id` in Belvo's update mode).
    mode: SessionMode,
    /// Update mode only: the link being repaired.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    link_id: Option<String>,
    /// Where the widget sends the webview back (this server's `/callbacks/...`).
    callback_urls: CallbackUrls,
    /// The health of the session's institutions (all of the product's when it offers any),
    /// as this replica read it at most `institutions.status_refresh` ago: warn the user before
    /// opening the widget when one is `down` or `degraded`.
    institutions_status: Vec<InstitutionEntry>,
}

/// Opens a widget session: asks Belvo for a widget token with the product's preset.
#[utoipa::path(
    post,
    path = "/v1/widget-sessions",
    operation_id = "create_widget_session",
    tag = "widget sessions",
    request_body = OpenRequest,
    responses(
        (status = 201, description = "Opened", body = CreatedSession),
        (status = 400, description = "Invalid request, unknown product, institution not allowed", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 429, description = "too_many_requests: this user opened more sessions than `limits.token_requests_per_minute` / `_per_day` allow (`retry_after`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    user: AppUser,
    body: web::Json<OpenRequest>,
) -> Result<HttpResponse, ApiError> {
    let opened = state
        .sessions
        .open(&user.external_id, &user.sub, body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(CreatedSession::new(&state, opened)))
}

impl CreatedSession {
    /// The answer for a session just opened (a new one or a reconnect), with its institutions'
    /// statuses from the cache only: opening a session never waits on Redis or Belvo for them.
    pub fn new(state: &AppState, opened: OpenedSession) -> Self {
        let mut codes = opened.session.institutions.clone();
        if codes.is_empty() {
            if let Some(product) = state.settings.products.get(&opened.session.product) {
                codes = state.institutions.of_product(product);
            }
        }
        let statuses = state.institutions.cached(&codes);
        Self::with_statuses(opened, statuses)
    }

    fn with_statuses(opened: OpenedSession, statuses: Vec<Shown>) -> Self {
        Self {
            session_id: opened.session.id.to_string(),
            product: opened.session.product.to_string(),
            platform: opened.session.platform.as_str(),
            widget_url: opened.widget_url,
            expires_at: rfc3339(opened.session.deadline),
            mode: opened.session.mode,
            link_id: opened.session.update_link.map(|l| l.to_string()),
            callback_urls: opened.callback_urls,
            institutions_status: statuses.into_iter().map(InstitutionEntry::from).collect(),
        }
    }
}
