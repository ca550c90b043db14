//! The one way HTML is answered (with a strict CSP), the error pages and the stylesheet: shared by
//! the routes, the console extractors (`auth`) and the emulator's widget, so it sits below all three.

use actix_web::http::{header, StatusCode};
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

const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'";

/// Renders a console page with the console's policy (it may load `/static/admin.js`).
pub fn console_page(status: StatusCode, page: &impl Template) -> HttpResponse {
    let mut response = html(status, page);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONSOLE_CSP),
    );
    response
}

/// The header's view of who is signed in.
pub struct Nav {
    pub name: String,
    pub role: &'static str,
    pub admin: bool,
    pub csrf: String,
    /// Signed in with a cookie (a bearer-token caller has nothing to sign out of).
    pub can_sign_out: bool,
    /// `support`, `funnel`, `branding` or `audit`: which menu entry is current.
    pub section: &'static str,
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ConsoleErrorPage<'a> {
    nav: Option<Nav>,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// An error as a console page.
pub fn console_error(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    console_page(
        status,
        &ConsoleErrorPage {
            nav: None,
            status: status.as_u16(),
            title,
            message,
        },
    )
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../static/style.css"))
}
