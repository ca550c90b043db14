//! Branding admin (SPEC §9) and deliveries (SPEC §13): pages under `/admin` and the automation
//! API under `/v1/admin/branding` and `/v1/admin/deliveries`. Every handler takes [`crate::auth::Admin`].

mod audit_page;
mod branding_api;
mod branding_index;
mod branding_page;
mod deliveries_api;
mod deliveries_page;
mod view;

use actix_web::web;

use super::console;

pub use branding_api::{get as get_branding, put as put_branding};
pub use deliveries_api::{list_deliveries, replay_delivery};

/// This area's part of `/openapi.json` (its routes are in `routes::api_routes`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    branding_api::get,
    branding_api::put,
    deliveries_api::list_deliveries,
    deliveries_api::replay_delivery
))]
pub struct Api;

/// The console's pages (HTML, so not in `/openapi.json`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .app_data(console::form_config())
            .route("/branding", web::get().to(branding_index::index))
            .route(
                "/branding/preview.css",
                web::get().to(branding_index::preview_css),
            )
            .route("/branding/{product}", web::get().to(branding_page::edit))
            .route("/branding/{product}", web::post().to(branding_page::submit))
            .route(
                "/branding/{product}/rollback",
                web::post().to(branding_page::rollback),
            )
            .route("/audit", web::get().to(audit_page::page))
            .route("/deliveries", web::get().to(deliveries_page::page))
            .route(
                "/deliveries/replay-dead",
                web::post().to(deliveries_page::replay_all),
            )
            .route(
                "/deliveries/{id}/replay",
                web::post().to(deliveries_page::replay_one),
            ),
    );
}
