//! `DELETE /v1/links/{link_id}`: the owner deletes a link, at Belvo and then here (SPEC §11).

use actix_web::{web, HttpResponse};

use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Deletes one of the caller's links: Belvo forgets its credentials and data, then this server
/// forgets the link. Belvo answering 404 (it deleted the link already) still deletes it here.
#[utoipa::path(
    delete,
    path = "/v1/links/{link_id}",
    operation_id = "delete_link",
    tag = "links",
    params(("link_id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted at Belvo and here"),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 502, description = "Belvo could not be reached or refused the deletion; nothing was deleted here", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time; nothing was deleted here", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<LinkId>,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = owned_link(&state, &user, path.into_inner()).await?;
    let known = state.belvo.delete_link(&id).await?;
    state.store.delete_link(&id, &user.external_id).await?;
    tracing::info!(link = %id, known_to_belvo = known, "link deleted");
    Ok(HttpResponse::NoContent().finish())
}
