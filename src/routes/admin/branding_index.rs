//! `/admin/branding`: every product's look at a glance, and the preview's color stylesheet.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::{audit, Admin};
use crate::domain::branding::HexColor;
use crate::routes::console::{self, human_time, Nav};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/branding_index.html")]
struct IndexPage {
    nav: Option<Nav>,
    products: Vec<ProductRow>,
}

struct ProductRow {
    product: String,
    company_name: String,
    color: String,
    version: u64,
    updated: String,
}

pub async fn index(state: web::Data<AppState>, Admin(staff): Admin) -> HttpResponse {
    let products = state
        .branding
        .products()
        .filter_map(|p| state.branding.current(p))
        .map(|v| ProductRow {
            product: v.product.to_string(),
            company_name: v.look.field("company_name").unwrap_or_else(|| "—".into()),
            color: v.look.field("overlay_background_color").unwrap_or_default(),
            version: v.version,
            updated: if v.version == 0 {
                "configuration".into()
            } else {
                format!("{} by {}", human_time(v.at), v.author)
            },
        })
        .collect();
    audit::record(&state, Some(&staff), "view_branding", "all products", "ok").await;
    console::page(
        StatusCode::OK,
        &IndexPage {
            nav: Nav::of(&staff, "branding"),
            products,
        },
    )
}

#[derive(Deserialize)]
pub struct ColorQuery {
    #[serde(default)]
    color: String,
}

/// Paints the preview's overlay color. Public and harmless: it only echoes a valid `#RRGGBB`.
pub async fn preview_css(query: web::Query<ColorQuery>) -> HttpResponse {
    let body = match HexColor::parse(&query.color) {
        Ok(color) => format!(
            "#preview-overlay {{ background-color: {}; }}\n",
            String::from(color)
        ),
        Err(_) => String::new(),
    };
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(body)
}
