//! `/demo/events` (embedded mode only): the demo's own receiver of this server's outbound events
//! (SPEC §13). `POST` is what a company's backend does — verify the Standard Webhooks signature,
//! refuse a bad one with 401 — and `GET` shows the latest verified events.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::error::{ApiError, ErrorCode};
use crate::notify::receiver::{DemoReceiver, Received, KEPT};
use crate::pages::html;

/// Where the demo's receiver listens (the extra endpoint startup configures).
pub const DEMO_EVENTS_PATH: &str = "/demo/events";
/// The name the demo endpoint's generated secret is kept under (no variable holds it).
pub const DEMO_SECRET_NAME: &str = "(generated for /demo/events)";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(DEMO_EVENTS_PATH, web::get().to(page))
        .route(DEMO_EVENTS_PATH, web::post().to(receive));
}

#[derive(Template)]
#[template(path = "demo/events.html")]
struct EventsPage {
    events: Vec<Received>,
    refused: u64,
    kept: usize,
}

async fn page(receiver: web::Data<DemoReceiver>) -> HttpResponse {
    let page = EventsPage {
        events: receiver.latest(),
        refused: receiver.refused(),
        kept: KEPT,
    };
    html(StatusCode::OK, &page)
}

/// One delivery: 204 once verified and kept, 401 when its signature does not verify.
#[tracing::instrument(skip_all)]
async fn receive(
    receiver: web::Data<DemoReceiver>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // standardwebhooks reads the headers from the `http` 1 map; actix-web 4 has its own.
    let mut headers = http::HeaderMap::new();
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    match receiver.receive(&headers, &body) {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(refused) => {
            tracing::info!(%refused, "demo event refused");
            Err(ApiError::new(ErrorCode::Unauthorized, refused.to_string()))
        }
    }
}
