//! Small pages: the index.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::pages::html;

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
