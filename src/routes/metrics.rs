//! `GET /metrics`: everything `crate::metrics` counts, in Prometheus' text format.

use actix_web::HttpResponse;

pub async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(crate::metrics::handle().render())
}
