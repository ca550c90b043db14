//! HTTP routes: thin (extract → call the service/store → respond).

mod admin;
mod callbacks;
pub mod console;
pub mod demo;
mod health;
mod links;
mod metrics;
mod pages;
mod support;
mod webhooks;
mod well_known;
mod widget_sessions;

use actix_web::web;

pub use console::console_error;
pub use pages::{error_page, html, stylesheet};
pub(crate) use webhooks::client_ip;

pub fn configure(cfg: &mut web::ServiceConfig, webhook_body_limit: usize) {
    webhooks::configure(cfg, webhook_body_limit);
    links::configure(cfg);
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::render))
        .configure(well_known::configure)
        .configure(support::configure)
        .configure(admin::configure)
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
