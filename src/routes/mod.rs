//! HTTP routes: thin (extract → call the service/store → respond).

mod callbacks;
pub mod demo;
mod health;
mod links;
mod metrics;
mod pages;
mod webhooks;
mod well_known;
mod widget_sessions;

use actix_web::web;

pub use pages::{error_page, html, stylesheet};

pub fn configure(cfg: &mut web::ServiceConfig, webhook_body_limit: usize) {
    webhooks::configure(cfg, webhook_body_limit);
    links::configure(cfg);
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::render))
        .configure(well_known::configure)
        .route("/", web::get().to(pages::index))
        .route("/static/style.css", web::get().to(pages::stylesheet))
        .route(
            "/callbacks/{session_id}/{kind}",
            web::get().to(callbacks::callback),
        )
        .service(
            web::scope("/v1/widget-sessions")
                .route("", web::post().to(widget_sessions::create))
                .route("/{session_id}", web::get().to(widget_sessions::show))
                .route(
                    "/{session_id}/events",
                    web::post().to(widget_sessions::post_event),
                ),
        );
}
