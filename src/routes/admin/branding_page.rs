//! `/admin/branding/{product}`: edit a product's widget look with errors next to each field,
//! preview it (live with `/static/admin.js`, or with the Preview button without JavaScript), see
//! its history with who/when/diff, and roll back. Admins only.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::view::{fields, history, FieldView, HistoryRow, Preview};
use crate::auth::{audit, Admin, Staff};
use crate::branding::{BrandingInput, EditError, FieldErrors};
use crate::domain::branding_version::BrandingVersion;
use crate::domain::ids::ProductName;
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/branding.html")]
struct EditPage {
    nav: Option<Nav>,
    product: String,
    /// The version the form edits (sent back to detect concurrent saves).
    version: u64,
    fields: Vec<FieldView>,
    preview: Preview,
    preview_css: String,
    history: Vec<HistoryRow>,
    notice: Option<(&'static str, String)>,
    csrf: String,
}

#[derive(Deserialize)]
pub struct Flash {
    saved: Option<u64>,
}

/// The path's product, when it is one this server has; anything else is the console's 404 page.
fn product_of(
    state: &AppState,
    path: Result<web::Path<ProductName>, actix_web::Error>,
) -> Result<ProductName, PageError> {
    path.ok()
        .and_then(|p| crate::products::find(&state.settings.products, p.as_str()))
        .map(|(name, _)| name.clone())
        .ok_or(PageError::NotFound("product"))
}

pub async fn edit(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: Result<web::Path<ProductName>, actix_web::Error>,
    flash: web::Query<Flash>,
) -> Result<HttpResponse, PageError> {
    let product = product_of(&state, path)?;
    let current = state
        .branding
        .current(&product)
        .ok_or(PageError::NotFound("product"))?;
    let versions = load_history(&state, &product).await?;
    // The store may be a moment ahead of this replica's cache.
    let current = versions.first().cloned().unwrap_or(current);
    let notice = flash.saved.map(|v| {
        (
            "ok",
            format!("Saved as version {v}. New widget sessions use it now."),
        )
    });
    audit::record(
        &state,
        Some(&staff),
        "view_branding",
        product.as_str(),
        "ok",
    )
    .await;
    Ok(render_saved(
        &staff,
        &product,
        &current,
        &versions,
        notice,
        StatusCode::OK,
    ))
}

async fn load_history(
    state: &AppState,
    product: &ProductName,
) -> Result<Vec<BrandingVersion>, PageError> {
    match state.branding_editor().history(product).await {
        Ok(versions) => Ok(versions),
        Err(EditError::Store(e)) => Err(e.into()),
        Err(_) => Err(PageError::NotFound("product")),
    }
}

/// What the form shows: the version it edits, its values, and what is wrong with them.
struct Draft<'a> {
    version: u64,
    input: &'a BrandingInput,
    errors: &'a FieldErrors,
}

/// The form showing a saved version as it is (nothing wrong with it).
fn render_saved(
    staff: &Staff,
    product: &ProductName,
    saved: &BrandingVersion,
    versions: &[BrandingVersion],
    notice: Option<(&'static str, String)>,
    status: StatusCode,
) -> HttpResponse {
    let input = BrandingInput::from_look(&saved.look);
    let draft = Draft {
        version: saved.version,
        input: &input,
        errors: &FieldErrors::new(),
    };
    render(staff, product, draft, versions, notice, status)
}

fn render(
    staff: &Staff,
    product: &ProductName,
    draft: Draft<'_>,
    versions: &[BrandingVersion],
    notice: Option<(&'static str, String)>,
    status: StatusCode,
) -> HttpResponse {
    let Draft {
        version,
        input,
        errors,
    } = draft;
    let current = versions.first().map_or(0, |v| v.version);
    let preview = Preview::of(input);
    console::page(
        status,
        &EditPage {
            nav: Nav::of(staff, "branding"),
            product: product.to_string(),
            version,
            fields: fields(input, errors),
            preview_css: preview.stylesheet(),
            preview,
            history: history(versions, current),
            notice,
            csrf: staff.csrf_token().to_owned(),
        },
    )
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    /// `save` or `preview`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    company_icon: String,
    #[serde(default)]
    company_logo: String,
    #[serde(default)]
    company_terms_url: String,
    #[serde(default)]
    overlay_background_color: String,
    #[serde(default)]
    social_proof: String,
    #[serde(default)]
    theme: String,
}

impl EditForm {
    fn input(&self) -> BrandingInput {
        BrandingInput {
            company_name: self.company_name.clone(),
            company_icon: self.company_icon.clone(),
            company_logo: self.company_logo.clone(),
            company_terms_url: self.company_terms_url.clone(),
            overlay_background_color: self.overlay_background_color.clone(),
            social_proof: self.social_proof.clone(),
            theme: self.theme.clone(),
        }
    }
}

pub async fn submit(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: Result<web::Path<ProductName>, actix_web::Error>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, actix_web::Error> {
    staff.check_csrf(&form.csrf)?;
    let product = product_of(&state, path)?;
    let versions = load_history(&state, &product).await?;
    let expected: u64 = form.version.parse().unwrap_or(0);
    let input = form.input();
    let respond = |errors: &FieldErrors, notice, status| {
        let draft = Draft {
            version: expected,
            input: &input,
            errors,
        };
        Ok(render(&staff, &product, draft, &versions, notice, status))
    };
    let look = match input.validate() {
        Ok(look) => look,
        Err(errors) => {
            let notice = Some((
                "error",
                "Some fields need fixing; nothing was saved.".to_owned(),
            ));
            return respond(&errors, notice, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if form.action == "preview" {
        let notice = Some((
            "info",
            "Preview only: nothing is saved until you press Save.".to_owned(),
        ));
        return respond(&FieldErrors::new(), notice, StatusCode::OK);
    }
    match state
        .branding_editor()
        .save(&product, look, staff.name.as_str(), Some(expected))
        .await
    {
        Ok(saved) => {
            let fields: Vec<_> = saved.diff.iter().map(|c| c.field.as_str()).collect();
            let target = format!("{product} v{}: {}", saved.version, fields.join(", "));
            audit::record(&state, Some(&staff), "branding_update", &target, "ok").await;
            Ok(see_other(&format!(
                "/admin/branding/{product}?saved={}",
                saved.version
            )))
        }
        Err(e) => {
            edit_failed(&state, &staff, &product, e, |notice, status| {
                respond(&FieldErrors::new(), Some(notice), status)
            })
            .await
        }
    }
}

/// A save or rollback that did not happen: say why on the page.
async fn edit_failed(
    state: &AppState,
    staff: &Staff,
    product: &ProductName,
    error: EditError,
    respond: impl FnOnce((&'static str, String), StatusCode) -> Result<HttpResponse, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let (status, outcome, error) = match error {
        EditError::Store(e) => return Err(PageError::from(e).into()),
        EditError::UnknownProduct(_) => return Err(PageError::NotFound("product").into()),
        e @ EditError::Unchanged => (StatusCode::OK, "unchanged", e),
        e @ EditError::Conflict { .. } => (StatusCode::CONFLICT, "conflict", e),
        e @ EditError::UnknownVersion(_) => (StatusCode::NOT_FOUND, "unknown_version", e),
    };
    audit::record(
        state,
        Some(staff),
        "branding_update",
        product.as_str(),
        outcome,
    )
    .await;
    let kind = if status == StatusCode::OK {
        "info"
    } else {
        "error"
    };
    respond((kind, format!("Not saved: {error}.")), status)
}

#[derive(Deserialize)]
pub struct RollbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    to: u64,
}

pub async fn rollback(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: Result<web::Path<ProductName>, actix_web::Error>,
    form: web::Form<RollbackForm>,
) -> Result<HttpResponse, actix_web::Error> {
    staff.check_csrf(&form.csrf)?;
    let product = product_of(&state, path)?;
    let expected = form.version.parse().ok();
    match state
        .branding_editor()
        .rollback(&product, form.to, staff.name.as_str(), expected)
        .await
    {
        Ok(saved) => {
            let target = format!("{product} v{} (back to v{})", saved.version, form.to);
            audit::record(&state, Some(&staff), "branding_rollback", &target, "ok").await;
            Ok(see_other(&format!(
                "/admin/branding/{product}?saved={}",
                saved.version
            )))
        }
        Err(e) => {
            let versions = load_history(&state, &product).await?;
            let current = versions
                .first()
                .cloned()
                .ok_or(PageError::NotFound("product"))?;
            edit_failed(&state, &staff, &product, e, |notice, status| {
                Ok(render_saved(
                    &staff,
                    &product,
                    &current,
                    &versions,
                    Some(notice),
                    status,
                ))
            })
            .await
        }
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
