//! `GET /v1/links` and `GET /v1/links/{id}`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::domain::webhook::LinkState;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A link as the app sees it.
fn view(id: &LinkId, link: &LinkState) -> Value {
    let resources: serde_json::Map<String, Value> = link
        .resources
        .iter()
        .map(|(name, r)| (name.clone(), json!({"status": r.status, "total": r.total})))
        .collect();
    json!({
        "link_id": id,
        "product": link.product,
        "institution": link.institution,
        "session_id": link.session.map(|s| s.to_string()),
        "resources": resources,
    })
}

/// The caller's links (made through the widget and verified, or through the API).
#[utoipa::path(
    get,
    path = "/v1/links",
    tag = "links",
    responses(
        (status = 200, description = "The caller's links", body = Object, example = json!({"links": [{
            "link_id": "cb65f82c-dc93-4d3e-8270-9a27528397f5", "product": "mx_employment",
            "institution": "imss_mx_employment", "session_id": null,
            "resources": {"EMPLOYMENT_RECORDS": {"status": "ready", "total": 1}}}]})),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn list(state: web::Data<AppState>, user: AppUser) -> Result<HttpResponse, ApiError> {
    let mut links = Vec::new();
    for id in state.store.user_links(&user.external_id).await? {
        if let Some(link) = state.store.link(&id).await? {
            if link.owner.as_ref() == Some(&user.external_id) {
                links.push(view(&id, &link));
            }
        }
    }
    Ok(HttpResponse::Ok().json(json!({"links": links})))
}

/// One of the caller's links; anyone else's (or an unverified one) is 404.
#[utoipa::path(
    get,
    path = "/v1/links/{link_id}",
    tag = "links",
    params(("link_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The link: product, institution, session, resources", body = Object),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn show(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = owned_link(&state, &user, &path).await?;
    Ok(HttpResponse::Ok().json(view(&id, &link)))
}
