//! `GET /openapi.json`: the API described from the code (utoipa). Each handler carries its
//! `#[utoipa::path]`; each area of the API adds its paths here. A test holds this document and
//! [`super::api_routes`] — what the server registers — to the same list.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "belvo-bff",
        description = "Backend-for-frontend between mobile apps and Belvo's hosted widget. \
            Errors are `{error: {code, message, request_id}}`; the request id is also in \
            `X-Request-Id`. See docs/api.md."
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        openapi_json,
        super::well_known::apple_app_site_association,
        super::well_known::assetlinks,
        super::callbacks::callback,
        super::webhooks::receive,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "widget sessions", description = "The mobile API: open a widget session, read its outcome"),
        (name = "links", description = "The mobile API: the caller's links and their data; links made through the API"),
        (name = "admin", description = "Branding automation (admin staff token)"),
        (name = "callbacks", description = "Where Belvo's widget sends the webview"),
        (name = "webhooks", description = "Belvo's webhooks"),
        (name = "app links", description = "Universal links and Android app links for the callbacks"),
        (name = "operations", description = "Probes and this document"),
    )
)]
struct Root;

/// The whole document: the root and every area's paths.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Root::openapi();
    doc.merge(super::widget_sessions::Api::openapi());
    doc.merge(super::links::Api::openapi());
    doc.merge(super::admin::Api::openapi());
    doc
}

/// Declares the bearer schemes the paths refer to.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(description.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "app_jwt",
            bearer("Your identity provider's user token (HS256, or RS256/ES256 by PEM or JWKS; see app_jwt.*)"),
        );
        components.add_security_scheme(
            "staff_jwt",
            bearer("A staff token with role admin (`belvo-bff token --role admin`)"),
        );
        components.add_security_scheme(
            "webhook_token",
            bearer("BFF_WEBHOOK_TOKEN, as registered with Belvo"),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        document()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.as_str())
}
