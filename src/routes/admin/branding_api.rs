//! `GET/PUT /v1/admin/branding/{product}` for automation (admin staff token, or an admin console
//! session sending `X-CSRF-Token`). `ETag` / `If-Match` carry the version to avoid lost updates.

use actix_web::http::header::{self, Header, IfMatch};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::{audit, Admin};
use crate::branding::{BrandingInput, EditError};
use crate::domain::branding::Branding;
use crate::domain::branding_version::BrandingVersion;
use crate::domain::ids::ProductName;
use crate::domain::theme::{Theme, ThemeEntry};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

/// The path's product, when it is one this server has (the CSRF check comes first on `put`,
/// so the path is taken as a `Result` rather than refused by the extractor).
fn product_of(
    state: &AppState,
    path: Result<web::Path<ProductName>, actix_web::Error>,
) -> Result<ProductName, ApiError> {
    path.ok()
        .and_then(|p| crate::products::find(&state.settings.products, p.as_str()))
        .map(|(name, _)| name.clone())
        .ok_or_else(|| ApiError::not_found("product"))
}

/// A product's widget branding at one version (`ETag` = the version).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ProductBranding)]
pub struct BrandingView<'a> {
    /// The product, as in `[products.NAME]`.
    #[schema(value_type = String, example = "mx_employment")]
    product: &'a ProductName,
    /// The version: 0 is the configuration's look, each save adds one. Send it back in
    /// `If-Match` to avoid lost updates.
    version: u64,
    /// When this version was saved; `null` for version 0 (the configuration's).
    #[schema(format = DateTime, required = true)]
    updated_at: Option<String>,
    /// Who saved it: the staff account or token subject; `configuration` for version 0.
    updated_by: &'a str,
    /// What the widget shows (`widget.branding` in Belvo's token request).
    branding: &'a Branding,
    /// The widget's custom colors (`widget.theme`); empty when none.
    #[schema(value_type = Vec<ThemeEntry>)]
    theme: &'a Theme,
    /// Only in `PUT`'s answer: `true` when a new version was saved, `false` when the body
    /// matched the current version (nothing saved).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    changed: Option<bool>,
}

impl<'a> BrandingView<'a> {
    fn new(v: &'a BrandingVersion, changed: Option<bool>) -> Self {
        Self {
            product: &v.product,
            version: v.version,
            updated_at: (v.version > 0).then(|| crate::domain::session::rfc3339(v.at)),
            updated_by: &v.author,
            branding: &v.look.branding,
            theme: &v.look.theme,
            changed,
        }
    }
}

/// The body of `PUT`: the whole look, replacing the current one (an absent, `null` or empty
/// field is unset, and Belvo shows its default). Read field by field so that every problem is
/// reported at once; this type documents it (`Deserialize` only so that the schema says
/// `additionalProperties: false`, as `from_json` enforces).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "branding": {"company_name": "ACME", "company_logo": "https://cdn.acme.mx/logo.svg",
        "social_proof": false},
    "theme": [{"css_key": "--colorPrimary", "value": "#0663F9"}]}))]
#[allow(dead_code)] // only documents the body, which `BrandingInput::from_json` reads
pub struct BrandingUpdate {
    /// Each field as in `ProductBranding`; `social_proof` also takes `"show"` or `"hide"`.
    branding: Option<Branding>,
    /// The widget's custom colors; each `css_key` at most once, at most 40 entries.
    theme: Option<Vec<ThemeEntry>>,
}

fn respond(status: StatusCode, v: &BrandingVersion, changed: Option<bool>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, format!("\"{}\"", v.version)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(BrandingView::new(v, changed))
}

/// A product's current widget branding (`ETag` = its version).
#[utoipa::path(
    get,
    path = "/v1/admin/branding/{product}",
    tag = "admin",
    params(("product" = String, Path)),
    responses(
        (status = 200, description = "The current version: product, version, updated_at, updated_by, branding, theme", body = BrandingView),
        (status = 401, description = "No staff token or console session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Unknown product", body = ErrorBody),
    ),
    security(("staff_jwt" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: Result<web::Path<ProductName>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let product = product_of(&state, path)?;
    let current = state
        .branding_editor()
        .history(&product)
        .await
        .map_err(api_error)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("product"))?;
    audit::record(
        &state,
        Some(&staff),
        "view_branding",
        product.as_str(),
        "ok",
    )
    .await;
    Ok(respond(StatusCode::OK, &current, None))
}

/// `If-Match: "3"` (or weak, `W/"3"`) → `Some(3)`; absent or `*` → `None` (save over whatever
/// is current). Anything else — not an ETag, not a version, several ETags — is refused.
fn if_match(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "If-Match must be one ETag like \"3\", or *",
        )
    };
    if !req.headers().contains_key(header::IF_MATCH) {
        return Ok(None);
    }
    match IfMatch::parse(req).map_err(|_| invalid())? {
        IfMatch::Any => Ok(None),
        IfMatch::Items(tags) => match tags.as_slice() {
            [tag] => tag.tag().parse().map(Some).map_err(|_| invalid()),
            _ => Err(invalid()),
        },
    }
}

/// Saves a product's widget branding: `branding` (company_name, company_icon, company_logo,
/// company_terms_url, overlay_background_color, social_proof) and `theme`; `If-Match` with the
/// `ETag` avoids lost updates. A console session must send `X-CSRF-Token`.
#[utoipa::path(
    put,
    path = "/v1/admin/branding/{product}",
    tag = "admin",
    params(
        ("product" = String, Path),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "The ETag read, e.g. `\"3\"`, or `*`"),
    ),
    request_body(content = BrandingUpdate, description = "`{branding: {...}, theme: [...]}`: the whole look"),
    responses(
        (status = 200, description = "Saved (`changed`), with the new version", body = BrandingView),
        (status = 400, description = "invalid_branding: each field and its problem", body = ErrorBody),
        (status = 401, description = "No staff token or console session", body = ErrorBody),
        (status = 403, description = "Not an admin, or a console request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Unknown product", body = ErrorBody),
        (status = 412, description = "version_conflict: someone saved since", body = ErrorBody),
    ),
    security(("staff_jwt" = []))
)]
pub async fn put(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: Result<web::Path<ProductName>, actix_web::Error>,
    req: HttpRequest,
    payload: web::Json<serde_json::Value>,
) -> Result<HttpResponse, actix_web::Error> {
    // A console session (cookie) must prove the request came from a console page.
    staff.check_csrf_header(&req)?;
    let product = product_of(&state, path)?;
    let expected = if_match(&req)?;
    let look = BrandingInput::from_json(&payload)
        .and_then(|input| input.validate())
        .map_err(|errors| {
            let message = errors
                .iter()
                .map(|(field, problem)| format!("{field}: {problem}"))
                .collect::<Vec<_>>()
                .join("; ");
            ApiError::new(ErrorCode::InvalidBranding, message)
        })?;
    match state
        .branding_editor()
        .save(&product, look, staff.name.as_str(), expected)
        .await
    {
        Ok(saved) => {
            let fields: Vec<_> = saved.diff.iter().map(|c| c.field.as_str()).collect();
            let target = format!("{product} v{}: {}", saved.version, fields.join(", "));
            audit::record(&state, Some(&staff), "branding_update", &target, "ok").await;
            Ok(respond(StatusCode::OK, &saved, Some(true)))
        }
        Err(EditError::Unchanged) => {
            let current = state
                .branding
                .current(&product)
                .ok_or_else(|| ApiError::not_found("product"))?;
            Ok(respond(StatusCode::OK, &current, Some(false)))
        }
        Err(e) => {
            audit::record(
                &state,
                Some(&staff),
                "branding_update",
                product.as_str(),
                "refused",
            )
            .await;
            Err(api_error(e).into())
        }
    }
}

fn api_error(e: EditError) -> ApiError {
    match e {
        EditError::Store(e) => e.into(),
        EditError::UnknownProduct(_) => ApiError::not_found("product"),
        EditError::UnknownVersion(_) => ApiError::not_found("version"),
        EditError::Conflict { .. } => ApiError::new(ErrorCode::VersionConflict, e.to_string()),
        EditError::Unchanged => ApiError::new(ErrorCode::Unchanged, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn expected(value: Option<&str>) -> Result<Option<u64>, u16> {
        let mut req = TestRequest::default();
        if let Some(value) = value {
            req = req.insert_header(("If-Match", value));
        }
        if_match(&req.to_http_request()).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn a_strong_or_weak_etag_names_the_version() {
        assert_eq!(expected(Some("\"3\"")), Ok(Some(3)));
        assert_eq!(expected(Some("W/\"12\"")), Ok(Some(12)));
    }

    #[test]
    fn absent_or_any_saves_over_the_current_version() {
        assert_eq!(expected(None), Ok(None));
        assert_eq!(expected(Some("*")), Ok(None));
        assert_eq!(expected(Some(" * ")), Ok(None));
    }

    #[test]
    fn anything_else_is_a_bad_request() {
        for value in ["", "3", "\"three\"", "\"1\", \"2\"", "W/3", "\"-1\""] {
            assert_eq!(expected(Some(value)), Err(400), "{value:?}");
        }
    }
}
