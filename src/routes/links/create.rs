//! `POST /v1/links {product, username}`: the API flow (see `crate::links`).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::AppUser;
use crate::error::{ApiError, ErrorBody};
use crate::links::{CreateLinkRequest, CreatedLink};
use crate::state::AppState;

/// Creates a link through the API flow (no widget); Belvo's refusals come back explained.
#[utoipa::path(
    post,
    path = "/v1/links",
    operation_id = "create_link",
    tag = "links",
    request_body = CreateLinkRequest,
    responses(
        (status = 201, description = "Created: the link as Belvo made it", body = CreatedLink),
        (status = 400, description = "unknown_product, invalid_username, api_flow_unavailable", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 422, description = "Belvo refused, explained: the explanation table's code, `explanation` and Belvo's own `belvo` {code, message}", body = ErrorBody),
        (status = 429, description = "too_many_attempts: this ID was tried 3 times in 24 h; too_many_usernames: this user tried `limits.usernames_per_day` different IDs today; forbidden_by_host: Belvo's own daily limit (`retry_after`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    user: AppUser,
    body: web::Json<CreateLinkRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let lang = crate::routes::request_lang(&req);
    let link = state
        .links
        .create(&user.external_id, body.into_inner(), lang)
        .await?;
    Ok(HttpResponse::Created().json(link))
}
