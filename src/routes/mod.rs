//! HTTP routes: thin (extract → call the service/store → respond).

mod admin;
mod callbacks;
pub mod console;
pub mod demo;
mod demo_consent;
pub mod demo_events;
mod health;
pub(crate) mod institutions;
mod lang;
mod links;
pub mod metrics;
mod openapi;
mod pages;
mod support;
pub(crate) mod templates;
mod webhooks;
mod well_known;
mod widget;
pub(crate) mod widget_sessions;

use actix_web::http::Method;
use actix_web::{web, Resource, Route};

use crate::error::{ApiError, ErrorCode};

pub use console::console_error;
pub(crate) use lang::request_lang;
pub use openapi::document as openapi_document;

/// A route of the API that `/openapi.json` describes.
pub struct ApiRoute {
    pub method: Method,
    /// The path template, as in the OpenAPI document.
    pub path: &'static str,
    handler: fn(Route) -> Route,
    /// A JSON body limit of its own (bytes), instead of `server.json_limit`.
    json_limit: Option<usize>,
}

impl ApiRoute {
    fn new(method: Method, path: &'static str, handler: fn(Route) -> Route) -> Self {
        Self {
            method,
            path,
            handler,
            json_limit: None,
        }
    }

    fn json_limit(mut self, limit: usize) -> Self {
        self.json_limit = Some(limit);
        self
    }
}

/// The documented API, one line per route. The server registers exactly these, and a test
/// checks them against `/openapi.json` both ways. To add a JSON route: a line here,
/// `#[utoipa::path]` on its handler, and the handler in its area's `Api` (see `openapi.rs`).
pub fn api_routes(webhook_body_limit: usize) -> Vec<ApiRoute> {
    use Method as M;
    vec![
        ApiRoute::new(M::GET, "/healthz", |r| r.to(health::healthz)),
        ApiRoute::new(M::GET, "/readyz", |r| r.to(health::readyz)),
        ApiRoute::new(M::GET, "/openapi.json", |r| r.to(openapi::openapi_json)),
        ApiRoute::new(M::GET, "/.well-known/apple-app-site-association", |r| {
            r.to(well_known::apple_app_site_association)
        }),
        ApiRoute::new(M::GET, "/.well-known/assetlinks.json", |r| {
            r.to(well_known::assetlinks)
        }),
        ApiRoute::new(M::GET, "/w/{session_id}", |r| r.to(widget::widget)),
        ApiRoute::new(M::GET, "/callbacks/{session_id}/{kind}", |r| {
            r.to(callbacks::callback)
        }),
        ApiRoute::new(M::POST, "/webhooks/belvo", |r| r.to(webhooks::receive))
            .json_limit(webhook_body_limit),
        ApiRoute::new(M::POST, "/webhooks/institution-status", |r| {
            r.to(institutions::status_webhook)
        }),
        ApiRoute::new(M::GET, "/v1/institutions", |r| r.to(institutions::list)),
        ApiRoute::new(M::POST, "/v1/widget-sessions", |r| {
            r.to(widget_sessions::create)
        }),
        ApiRoute::new(M::GET, widget_sessions::SHOW_ROUTE, |r| {
            r.to(widget_sessions::show)
        }),
        ApiRoute::new(M::POST, "/v1/widget-sessions/{session_id}/events", |r| {
            r.to(widget_sessions::post_event)
        }),
        ApiRoute::new(M::GET, "/v1/links", |r| r.to(links::list)),
        ApiRoute::new(M::POST, "/v1/links", |r| r.to(links::create)),
        ApiRoute::new(M::GET, "/v1/links/{link_id}", |r| r.to(links::show)),
        ApiRoute::new(M::DELETE, "/v1/links/{link_id}", |r| r.to(links::delete)),
        ApiRoute::new(M::POST, "/v1/links/{link_id}/reconnect", |r| {
            r.to(links::reconnect)
        }),
        ApiRoute::new(M::POST, "/v1/links/{link_id}/check", |r| r.to(links::check)),
        ApiRoute::new(M::POST, "/v1/links/{link_id}/consent-renewal", |r| {
            r.to(links::renew_consent)
        }),
        ApiRoute::new(M::POST, "/v1/consent-portal", |r| r.to(links::open_portal)),
        ApiRoute::new(M::GET, "/v1/consent-portal", |r| r.to(links::public_portal)),
        ApiRoute::new(M::GET, "/v1/links/{link_id}/{resource}", |r| {
            r.to(links::data)
        }),
        ApiRoute::new(M::GET, "/v1/admin/branding/{product}", |r| {
            r.to(admin::get_branding)
        }),
        ApiRoute::new(M::PUT, "/v1/admin/branding/{product}", |r| {
            r.to(admin::put_branding)
        }),
        ApiRoute::new(M::GET, "/v1/admin/deliveries", |r| {
            r.to(admin::list_deliveries)
        }),
        ApiRoute::new(M::POST, "/v1/admin/deliveries/{id}/replay", |r| {
            r.to(admin::replay_delivery)
        }),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig, webhook_body_limit: usize) {
    // One resource per path, holding every method's route (a resource that matches the path
    // but not the method answers 405 and hides later resources of the same path).
    let mut resources: Vec<(&str, Resource)> = Vec::new();
    for route in api_routes(webhook_body_limit) {
        let handler = (route.handler)(web::route().method(route.method.clone()));
        let at = match resources.iter().position(|(path, _)| *path == route.path) {
            Some(at) => at,
            None => {
                resources.push((route.path, web::resource(route.path)));
                resources.len() - 1
            }
        };
        let (path, resource) = resources.remove(at);
        let mut resource = resource.route(handler);
        if let Some(limit) = route.json_limit {
            resource = resource.app_data(json_config(limit));
        }
        resources.insert(at, (path, resource));
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
    // Not JSON, so not in the OpenAPI document: pages, the console, metrics.
    cfg.route("/metrics", web::get().to(metrics::render))
        .configure(support::configure)
        .configure(admin::configure)
        .route("/", web::get().to(pages::index))
        .route("/static/style.css", web::get().to(crate::pages::stylesheet));
}

/// JSON bodies: size limit and every extractor error as our JSON error body.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError;
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ErrorCode::PayloadTooLarge.into(),
                JsonPayloadError::ContentType => ErrorCode::UnsupportedMediaType.into(),
                JsonPayloadError::Deserialize(e) => ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("the JSON body is not valid: {e}"),
                ),
                _ => ApiError::new(ErrorCode::InvalidJson, "the JSON body could not be read"),
            };
            api.into()
        })
}
