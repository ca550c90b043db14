//! `GET /metrics`: everything `crate::metrics` counts, in Prometheus' text format; and the
//! middleware that counts and times every request by route template.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use metrics::counter;

use crate::error::ErrorCode;
use crate::routes::widget_sessions::fit_long_poll_headers;
use crate::telemetry::RouteTemplate;

pub async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(crate::metrics::handle().render())
}

/// Middleware (`middleware::from_fn`) counting and timing every request by its route template
/// (`match_pattern`), so `/v1/widget-sessions/{session_id}` is one series however many sessions
/// there are. Call [`crate::metrics::handle`] before serving, so counters hit before the first scrape are kept.
/// The outermost middleware: it leaves the template in the request's [`RouteTemplate`], and
/// fits a long-poll's headers to their size while nothing else holds the request
/// ([`fit_long_poll_headers`]).
pub async fn record_request(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let route: Cow<'static, str> = match super::templates::api_template(req.path()) {
        Some(template) => Cow::Borrowed(template),
        None => Cow::Owned(
            req.match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
        ),
    };
    fit_long_poll_headers(&route, &mut req);
    req.extensions_mut().insert(RouteTemplate(route.clone()));
    let result = next.call(req).await;
    let (status, code) = match &result {
        Ok(response) => (
            response.status(),
            response.response().extensions().get::<ErrorCode>().copied(),
        ),
        Err(e) => (e.as_response_error().status_code(), None),
    };
    if let Some(code) = code {
        counter!("bff_api_errors_total", "route" => route.clone(), "code" => code.as_str())
            .increment(1);
    }
    crate::metrics::request_finished(method, &route, status.as_u16(), started.elapsed());
    result
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
