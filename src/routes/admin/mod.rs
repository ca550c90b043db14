//! Branding admin (SPEC §9): pages under `/admin` and the automation API under
//! `/v1/admin/branding`. Every handler takes [`crate::auth::Admin`].

mod audit_page;
mod branding_api;
mod branding_index;
mod branding_page;
mod view;

use actix_web::web;

use super::console;

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
            .route("/audit", web::get().to(audit_page::page)),
    )
    .service(
        web::resource("/v1/admin/branding/{product}")
            .route(web::get().to(branding_api::get))
            .route(web::put().to(branding_api::put)),
    );
}
