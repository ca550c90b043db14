//! `POST /v1/links/{id}/check`: reads Belvo's record of the link now (SPEC §11), once a minute
//! per link.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};

use super::list::LinkView;
use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::links::health::{self, CheckError};
use crate::routes::lang::request_lang;
use crate::state::AppState;

/// One check per link in this window.
const CHECK_WINDOW: Duration = Duration::from_secs(60);

/// Reads Belvo's record of one of the caller's links now and answers the link with its health.
#[utoipa::path(
    post,
    path = "/v1/links/{link_id}/check",
    operation_id = "check_link",
    tag = "links",
    params(("link_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The link after reading Belvo's record (`checked_at` now)", body = LinkView),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 429, description = "too_many_checks: checked less than a minute ago (`retry_after`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn check(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<LinkId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = owned_link(&state, &user, path.into_inner()).await?;
    let (count, left) = state
        .store
        .count_attempt(&format!("link-check:{id}"), CHECK_WINDOW)
        .await?;
    if count > 1 {
        return Err(ApiError::from(ErrorCode::TooManyChecks).retry_after(left.as_secs().max(1)));
    }
    health::check(&state.belvo, &state.store, &id, "api")
        .await
        .map_err(|e| match e {
            CheckError::Belvo(e) => ApiError::from(e),
            CheckError::Store(e) => ApiError::from(e),
        })?;
    let (id, link) = owned_link(&state, &user, id).await?;
    let open_finance = super::is_open_finance(&state, &link);
    Ok(HttpResponse::Ok().json(LinkView::new(id, &link, request_lang(&req), open_finance)))
}
