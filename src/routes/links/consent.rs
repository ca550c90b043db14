//! Brazil open-finance consents (SPEC §12): `POST /v1/links/{link_id}/consent-renewal`,
//! `POST /v1/consent-portal` and `GET /v1/consent-portal`. The CPF/CNPJ in the body goes to
//! Belvo's token request only: never stored, never logged.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::domain::session::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::links::{ConsentPortal, PortalRequest};
use crate::state::AppState;

/// A My Belvo Portal URL with a short-lived access token: open it in a browser or webview.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "url": "https://meuportal.belvo.com/?access_token=eyJhbGciOi...&link_id=cb65f82c-dc93-4d3e-8270-9a27528397f5&consent_id=9e763d19-15a4-410c-a106-18c0f60ca5eb&institution=ofmockbank_br_retail&institution_display_name=Mock+Bank&action=renew",
    "expires_at": "2026-11-25T14:55:22Z"
}))]
pub struct PortalUrl {
    url: String,
    /// When the token in `url` stops working.
    #[schema(format = DateTime)]
    expires_at: String,
}

impl From<ConsentPortal> for PortalUrl {
    fn from(portal: ConsentPortal) -> Self {
        Self {
            url: portal.url,
            expires_at: rfc3339(portal.expires_at),
        }
    }
}

/// The public portal (all the user's Belvo consents).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"url": "https://meuportal.belvo.com/?mode=landing"}))]
pub struct PublicPortal {
    url: String,
}

/// The renewal URL of a Brazil open-finance link's expired consent: My Belvo Portal with a fresh
/// `consent_management` token and the consent-expired webhook's details. Only for a consent
/// whose state is `expired`; the link is back to `active` once Belvo's data flows again.
#[utoipa::path(
    post,
    path = "/v1/links/{link_id}/consent-renewal",
    operation_id = "renew_consent",
    tag = "consents",
    params(("link_id" = String, Path, format = Uuid)),
    request_body = PortalRequest,
    responses(
        (status = 201, description = "The portal's renewal URL", body = PortalUrl),
        (status = 400, description = "invalid_request: the CPF/CNPJ or name is not valid", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 409, description = "`not_open_finance` (not a Brazil open-finance link) or `consent_not_expired` (manage it in the consent portal)", body = ErrorBody),
        (status = 429, description = "too_many_requests: this user's Belvo token budget is spent (`retry_after`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn renew(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<LinkId>,
    body: web::Json<PortalRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = owned_link(&state, &user, path.into_inner()).await?;
    let portal = state
        .links
        .renew_consent(&user.external_id, id, &link, body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(PortalUrl::from(portal)))
}

/// My Belvo Portal limited to the consents the user gave this app: the clearly visible way to
/// manage them that Brazilian open-finance rules require in the app.
#[utoipa::path(
    post,
    path = "/v1/consent-portal",
    operation_id = "open_consent_portal",
    tag = "consents",
    request_body = PortalRequest,
    responses(
        (status = 201, description = "The portal URL for this user and app", body = PortalUrl),
        (status = 400, description = "invalid_request: the CPF/CNPJ or name is not valid", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 409, description = "not_open_finance: no open-finance product is configured", body = ErrorBody),
        (status = 429, description = "too_many_requests: this user's Belvo token budget is spent (`retry_after`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn open_portal(
    state: web::Data<AppState>,
    user: AppUser,
    body: web::Json<PortalRequest>,
) -> Result<HttpResponse, ApiError> {
    let portal = state
        .links
        .consent_portal(&user.external_id, body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(PortalUrl::from(portal)))
}

/// The public My Belvo Portal, where the user manages every consent they gave through Belvo.
#[utoipa::path(
    get,
    path = "/v1/consent-portal",
    operation_id = "public_consent_portal",
    tag = "consents",
    responses(
        (status = 200, description = "The public portal's URL", body = PublicPortal),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn public_portal(state: web::Data<AppState>, _user: AppUser) -> HttpResponse {
    HttpResponse::Ok().json(PublicPortal {
        url: state.links.public_portal_url(),
    })
}
