//! `/.well-known/apple-app-site-association` and `/.well-known/assetlinks.json`: the files iOS
//! and Android fetch to let the configured apps open this server's callback URLs themselves
//! (universal links / verified app links), from `[app.ios]` and `[app.android]`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::config::app_links::{AndroidAppLinks, IosAppLinks};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

/// Apple's CDN fetches this on install; served as JSON, no redirect, no extension.
#[utoipa::path(
    get,
    path = "/.well-known/apple-app-site-association",
    tag = "app links",
    responses(
        (status = 200, description = "Lets `app.ios.app_ids` open `/callbacks/*` as universal links", body = Object),
        (status = 404, description = "No iOS app configured", body = ErrorBody),
    )
)]
pub async fn apple_app_site_association(
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ios = &state.settings.app.ios;
    if ios.app_ids.is_empty() {
        return Err(not_configured("no iOS app is configured (app.ios.app_ids)"));
    }
    Ok(well_known_json(aasa(
        ios,
        &callbacks_pattern(&state.public_base_url),
    )))
}

/// Android's Digital Asset Links file.
#[utoipa::path(
    get,
    path = "/.well-known/assetlinks.json",
    tag = "app links",
    responses(
        (status = 200, description = "Lets `app.android` open `/callbacks/*` as verified app links", body = Object),
        (status = 404, description = "No Android app configured", body = ErrorBody),
    )
)]
pub async fn assetlinks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let android = &state.settings.app.android;
    let Some(body) = assetlinks_document(android) else {
        return Err(not_configured(
            "no Android app is configured (app.android.package_name)",
        ));
    };
    Ok(well_known_json(body))
}

/// The modern (iOS 13+) format: `appIDs` and URL `components`.
fn aasa(ios: &IosAppLinks, pattern: &str) -> Value {
    let app_ids: Vec<&str> = ios.app_ids.iter().map(|id| id.as_str()).collect();
    json!({
        "applinks": {
            "details": [{
                "appIDs": app_ids,
                "components": [{"/": pattern, "comment": "Belvo widget callbacks"}],
            }]
        }
    })
}

fn assetlinks_document(android: &AndroidAppLinks) -> Option<Value> {
    let package = android.package_name.as_ref()?;
    let fingerprints: Vec<&str> = android
        .sha256_cert_fingerprints
        .iter()
        .map(|f| f.as_str())
        .collect();
    Some(json!([{
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {
            "namespace": "android_app",
            "package_name": package.as_str(),
            "sha256_cert_fingerprints": fingerprints,
        }
    }]))
}

/// `/callbacks/*` under the public base URL's path, so a server published at
/// `https://example.com/bff` claims `/bff/callbacks/*` and nothing else of the host.
fn callbacks_pattern(public_base_url: &str) -> String {
    let prefix = url::Url::parse(public_base_url)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{prefix}/callbacks/*")
}

fn well_known_json(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(body)
}

fn not_configured(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_pattern_follows_the_public_base_path() {
        assert_eq!(callbacks_pattern("https://bff.example.com"), "/callbacks/*");
        assert_eq!(
            callbacks_pattern("https://bff.example.com/"),
            "/callbacks/*"
        );
        assert_eq!(
            callbacks_pattern("https://example.com/bff/"),
            "/bff/callbacks/*"
        );
    }
}
