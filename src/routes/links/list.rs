//! `GET /v1/links` and `GET /v1/links/{id}`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::domain::webhook::LinkState;
use crate::error::ApiError;
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

pub async fn show(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = owned_link(&state, &user, &path).await?;
    Ok(HttpResponse::Ok().json(view(&id, &link)))
}
