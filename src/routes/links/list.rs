//! `GET /v1/links` and `GET /v1/links/{id}`.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::owned_link;
use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::domain::webhook::{LinkState, Readiness};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A link as the app sees it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Link)]
pub struct LinkView<'a> {
    #[schema(value_type = String, format = Uuid)]
    link_id: LinkId,
    /// The product the link was made for.
    #[schema(value_type = Option<String>, required = true)]
    product: Option<&'a str>,
    /// The institution Belvo connected, e.g. `imss_mx_employment`.
    #[schema(required = true)]
    institution: Option<&'a str>,
    /// The widget session that made the link; `null` for a link made through `POST /v1/links`.
    #[schema(format = Uuid, required = true)]
    session_id: Option<String>,
    /// Readiness of each resource Belvo fetches for the link (e.g. `EMPLOYMENT_RECORDS`), from
    /// its webhooks; empty until the first one arrives.
    resources: BTreeMap<&'a str, LinkResource>,
}

/// One resource of a link: whether Belvo has fetched it, and how many items it holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkResource {
    status: Readiness,
    /// How many items Belvo fetched (`null` until its webhook says).
    #[schema(required = true)]
    total: Option<u64>,
}

/// The caller's links.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Links<'a> {
    links: Vec<LinkView<'a>>,
}

impl<'a> LinkView<'a> {
    fn new(id: LinkId, link: &'a LinkState) -> Self {
        Self {
            link_id: id,
            product: link.product.as_ref().map(|p| p.as_str()),
            institution: link.institution.as_deref(),
            session_id: link.session.map(|s| s.to_string()),
            resources: link
                .resources
                .iter()
                .map(|(name, r)| {
                    let resource = LinkResource {
                        status: r.status,
                        total: r.total,
                    };
                    (name.as_str(), resource)
                })
                .collect(),
        }
    }
}

/// The caller's links (made through the widget and verified, or through the API).
#[utoipa::path(
    get,
    path = "/v1/links",
    operation_id = "list_links",
    tag = "links",
    responses(
        (status = 200, description = "The caller's links", body = Links, example = json!({"links": [{
            "link_id": "cb65f82c-dc93-4d3e-8270-9a27528397f5", "product": "mx_employment",
            "institution": "imss_mx_employment", "session_id": null,
            "resources": {"EMPLOYMENT_RECORDS": {"status": "ready", "total": 1}}}]})),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn list(state: web::Data<AppState>, user: AppUser) -> Result<HttpResponse, ApiError> {
    let mut owned = Vec::new();
    for id in state.store.user_links(&user.external_id).await? {
        if let Some(link) = state.store.link(&id).await? {
            if link.owner.as_ref() == Some(&user.external_id) {
                owned.push((id, link));
            }
        }
    }
    let links = owned
        .iter()
        .map(|(id, link)| LinkView::new(*id, link))
        .collect();
    Ok(HttpResponse::Ok().json(Links { links }))
}

/// One of the caller's links; anyone else's (or an unverified one) is 404.
#[utoipa::path(
    get,
    path = "/v1/links/{link_id}",
    operation_id = "show_link",
    tag = "links",
    params(("link_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The link: product, institution, session, resources", body = LinkView),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, unverified, or not the caller's", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn show(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<LinkId>,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = owned_link(&state, &user, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(LinkView::new(id, &link)))
}
