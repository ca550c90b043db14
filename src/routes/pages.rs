//! Small pages, static assets, and the one way HTML is answered (with a strict CSP).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

/// No inline script or style anywhere: pages load `/static/` only.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Renders an askama template as an HTML response with security headers.
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Content-Security-Policy", CSP))
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// An HTML error page for people (webviews, browsers) rather than API clients.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    html(
        status,
        &ErrorPage {
            status: status.as_u16(),
            title,
            message,
        },
    )
}

#[derive(Template)]
#[template(path = "index.html")]
struct Index {
    version: &'static str,
}

pub async fn index() -> HttpResponse {
    html(
        StatusCode::OK,
        &Index {
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/style.css"))
}
