//! `GET /openapi.json`: the API described from the code (utoipa). Each handler carries its
//! `#[utoipa::path]`; each area of the API adds its paths here. A test holds this document and
//! [`super::api_routes`] — what the server registers — to the same list.

use actix_web::web;
use actix_web::HttpResponse;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::Ref;
use utoipa::{Modify, OpenApi};

use crate::error::ErrorCode;
use crate::state::AppState;

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
        super::widget::widget,
        super::webhooks::receive,
        super::institutions::status_webhook,
        super::institutions::list,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "widget sessions", description = "The mobile API: open a widget session, read its outcome"),
        (name = "links", description = "The mobile API: the caller's links and their data; links made through the API"),
        (name = "consents", description = "The mobile API: Brazil open-finance consents in My Belvo Portal (renewal, the user's consents)"),
        (name = "admin", description = "Branding automation (admin staff token)"),
        (name = "callbacks", description = "Where Belvo's widget sends the webview"),
        (name = "webhooks", description = "Belvo's webhooks"),
        (name = "app links", description = "Universal links and Android app links for the callbacks"),
        (name = "operations", description = "Probes and this document"),
    )
)]
struct Root;

/// The whole document: the root and every area's paths, with the answers every route shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Root::openapi();
    doc.merge(super::widget_sessions::Api::openapi());
    doc.merge(super::links::Api::openapi());
    doc.merge(super::admin::Api::openapi());
    SharedAnswers.modify(&mut doc);
    doc
}

/// The document as served: `product` fields and parameters list the configured products.
pub fn document_for(products: &[&str]) -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).expect("the OpenAPI document serialises");
    let products = serde_json::json!(products);
    for schema in ["OpenRequest", "CreateLinkRequest"] {
        doc["components"]["schemas"][schema]["properties"]["product"]["enum"] = products.clone();
    }
    for operation in doc["paths"]["/v1/admin/branding/{product}"]
        .as_object_mut()
        .into_iter()
        .flat_map(|item| item.values_mut())
    {
        for param in operation["parameters"].as_array_mut().into_iter().flatten() {
            if param["name"] == "product" {
                param["schema"]["enum"] = products.clone();
            }
        }
    }
    doc
}

/// Answers no handler lists because middleware and extractors give them, from the registry:
/// every route may refuse oversized headers; every JSON body may be malformed, too large or
/// not JSON at all.
struct SharedAnswers;

impl utoipa::Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                // Any stored record read on the way may turn out unreadable.
                let mut codes = vec![ErrorCode::HeadersTooLarge, ErrorCode::CorruptRecord];
                if json_body {
                    codes.extend([
                        ErrorCode::InvalidJson,
                        ErrorCode::PayloadTooLarge,
                        ErrorCode::UnsupportedMediaType,
                    ]);
                }
                for code in codes {
                    operation
                        .responses
                        .responses
                        .entry(code.status().as_str().to_owned())
                        .or_insert_with(|| error_response(code).into());
                }
            }
        }
    }
}

/// An error answer with the shared body, described by its code.
fn error_response(code: ErrorCode) -> Response {
    ResponseBuilder::new()
        .description(format!("`{code}`: {}", code.default_message()))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
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
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some(
            "Basic with password BFF_WEBHOOK_TOKEN (user name webhooks.basic_username when set)"
                .to_owned(),
        );
        components.add_security_scheme("webhook_basic", SecurityScheme::Http(basic));
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", body = Object))
)]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    let products: Vec<&str> = state.settings.products.keys().map(|p| p.as_str()).collect();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_for(&products).to_string())
}
