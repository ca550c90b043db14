//! `GET /api/links/` (paginated, oldest first, with Belvo's simple filters) and
//! `DELETE /api/links/{id}/` (204; the link's data goes with it).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::api_auth::{belvo_error, denied};
use super::pages::PageQuery;
use super::{Emulator, Link};

#[derive(Deserialize)]
pub struct LinkFilters {
    institution: Option<String>,
    access_mode: Option<String>,
    external_id: Option<String>,
    status: Option<String>,
}

impl LinkFilters {
    fn keep(&self, link: &Link) -> bool {
        let is =
            |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
        is(&self.institution, &link.institution)
            && is(&self.access_mode, &link.access_mode)
            && is(&self.status, link.status)
            && is(
                &self.external_id,
                link.external_id.as_deref().unwrap_or_default(),
            )
    }
}

pub async fn list(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    filters: web::Query<LinkFilters>,
    page: web::Query<PageQuery>,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    let mut links: Vec<Link> = emulator
        .state()
        .links
        .values()
        .filter(|l| filters.keep(l))
        .cloned()
        .collect();
    links.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    let count = links.len();
    let results = links[page.range(count)]
        .iter()
        .map(|l| serde_json::to_value(l).expect("a link serialises"))
        .collect();
    HttpResponse::Ok().json(page.body(&req, count, results))
}

pub async fn delete(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    match emulator.state().links.remove(id.as_str()) {
        Some(_) => HttpResponse::NoContent().finish(),
        None => belvo_error(404, "not_found", "Not found.", None),
    }
}
