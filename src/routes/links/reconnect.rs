//! `POST /v1/links/{link_id}/reconnect`: update mode for one of the caller's links (SPEC §11).

use actix_web::{web, HttpResponse};

use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::error::{ApiError, ErrorBody};
use crate::routes::widget_sessions::CreatedSession;
use crate::sessions::ReconnectRequest;
use crate::state::AppState;

/// Opens a widget session in Belvo's update mode for the link: the user logs in again (new
/// password, MFA token) and the link keeps its id, data and resources. Allowed whatever the
/// link's health. The answer is `POST /v1/widget-sessions`'s, with `mode: "update"` and
/// `link_id`; the success callback must name the same link (else the session fails with
/// `link_mismatch` and no link changes).
#[utoipa::path(
    post,
    path = "/v1/links/{link_id}/reconnect",
    operation_id = "reconnect_link",
    tag = "links",
    params(("link_id" = String, Path, format = Uuid)),
    request_body = ReconnectRequest,
    responses(
        (status = 201, description = "An update-mode session", body = CreatedSession),
        (status = 400, description = "Invalid platform or locale", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 409, description = "`reconnect_not_supported` (a Brazil open-finance link: renew its consent) or `link_unknown_to_belvo` (connect it again with a new session)", body = ErrorBody),
        (status = 429, description = "too_many_requests: this user's Belvo token budget is spent (`retry_after`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn reconnect(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<LinkId>,
    body: web::Json<ReconnectRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = owned_link(&state, &user, path.into_inner()).await?;
    let opened = state
        .sessions
        .reconnect(&user.external_id, &user.sub, id, &link, body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(CreatedSession::new(&state, opened)))
}
