//! Institution health (SPEC §14): `GET /v1/institutions?product=` for apps and
//! `POST /webhooks/institution-status?token=` for Belvo's status page.

use actix_web::{web, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::auth::AppUser;
use crate::domain::institution::{InstitutionStatus, StatusWebhook};
use crate::domain::session::rfc3339;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::institutions::{ReportError, Shown};
use crate::state::AppState;

/// One institution's health as an app sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstitutionEntry {
    /// Belvo's institution code.
    #[schema(example = "imss_mx_employment")]
    name: String,
    /// Belvo's display name (from its institutions API, cached); the code while none is known.
    #[schema(example = "IMSS")]
    display_name: String,
    /// The worse of Belvo's status page and what this server saw the widget report.
    status: InstitutionStatus,
    /// When it took this status; null while operational with nothing reported.
    #[schema(format = DateTime)]
    since: Option<String>,
}

impl From<Shown> for InstitutionEntry {
    fn from(shown: Shown) -> Self {
        Self {
            name: shown.health.code,
            display_name: shown.display_name,
            status: shown.health.status,
            since: shown.health.since.map(rfc3339),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstitutionList {
    institutions: Vec<InstitutionEntry>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct InstitutionsQuery {
    /// A configured product.
    product: String,
}

/// The product's institutions and their health, so the app can warn before opening the widget.
#[utoipa::path(
    get,
    path = "/v1/institutions",
    tag = "widget sessions",
    params(InstitutionsQuery),
    responses(
        (status = 200, description = "The product's institutions", body = InstitutionList),
        (status = 400, description = "Missing or unknown product", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    _user: AppUser,
    query: web::Query<InstitutionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, product) = crate::products::require(&state.settings.products, &query.product)?;
    let codes = state.institutions.of_product(product);
    let shown = state.institutions.statuses(&codes).await?;
    Ok(HttpResponse::Ok().json(InstitutionList {
        institutions: shown.into_iter().map(InstitutionEntry::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StatusTokenQuery {
    /// `BFF_STATUS_WEBHOOK_TOKEN`, as given to the status page in the webhook's URL.
    #[serde(default)]
    token: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusReceipt {
    /// Component statuses recorded.
    recorded: usize,
}

/// Belvo's status page (statuspage.io) webhook: a component update or an incident with its
/// components, each component mapped to an institution by `institutions.status_components`.
/// Off (404) unless `BFF_STATUS_WEBHOOK_TOKEN` is set. A body with any invalid part records
/// nothing.
#[utoipa::path(
    post,
    path = "/webhooks/institution-status",
    tag = "webhooks",
    params(StatusTokenQuery),
    request_body = StatusWebhook,
    responses(
        (status = 200, description = "Recorded", body = StatusReceipt),
        (status = 400, description = "Not a status-page webhook (nothing recorded)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "The status webhook is off (no BFF_STATUS_WEBHOOK_TOKEN)", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    )
)]
pub async fn status_webhook(
    state: web::Data<AppState>,
    query: web::Query<StatusTokenQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = &state.settings.secrets.status_webhook_token else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "the status webhook is off: BFF_STATUS_WEBHOOK_TOKEN is not set",
        ));
    };
    let given = query.token.as_deref().unwrap_or_default().as_bytes();
    if !bool::from(given.ct_eq(expected.expose_secret().as_bytes())) {
        tracing::warn!("status webhook with a missing or wrong token");
        return Err(ApiError::unauthorized("a valid ?token= is required"));
    }
    let webhook: StatusWebhook = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidWebhook,
            format!("not a status-page webhook: {e}"),
        )
    })?;
    match state.institutions.report(&webhook).await {
        Ok(recorded) => Ok(HttpResponse::Ok().json(StatusReceipt { recorded })),
        Err(ReportError::Invalid(e)) => {
            Err(ApiError::new(ErrorCode::InvalidWebhook, e.to_string()))
        }
        Err(ReportError::Store(e)) => Err(e.into()),
    }
}
