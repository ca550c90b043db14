//! `GET /v1/links/{id}/{owners|employment-records|employment-metrics|employments}`: the link's
//! data from Belvo, owner-only, pagination passed through (`page`, `page_size`).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::owned_link;
use crate::auth::AppUser;
use crate::belvo::BelvoError;
use crate::domain::country::Country;
use crate::domain::health::{data_call_problem, Health, HealthChange};
use crate::domain::ids::LinkId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::links::health;
use crate::state::AppState;

/// Belvo's pagination, passed through.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// From 1 (the default) to 100000.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u32>,
    /// From 1 to 1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    page_size: Option<u32>,
}

/// The `{resource}` path segments; [`endpoint`] maps them to Belvo's for the link's country.
#[derive(Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
pub enum DataResource {
    Owners,
    EmploymentRecords,
    EmploymentMetrics,
    Employments,
}

/// A page of a link's data: Belvo's paginated answer, with `next` and `previous` pointing at this
/// API instead of Belvo's.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DataPage {
    /// How many items the resource holds in all (Belvo's `count`).
    count: u64,
    /// The next page on this API (same `page_size`); `null` on the last page.
    #[schema(
        required = true,
        example = "/v1/links/cb65f82c-dc93-4d3e-8270-9a27528397f5/owners?page=2&page_size=100"
    )]
    next: Option<String>,
    /// The previous page on this API; `null` on the first page.
    #[schema(required = true)]
    previous: Option<String>,
    /// This page's items, exactly as Belvo returns them (see Belvo's API reference for each
    /// resource).
    #[schema(value_type = Vec<Object>)]
    results: Value,
}

/// Belvo's endpoint for a resource of a link in `country`.
fn endpoint(resource: &str, country: Country) -> Option<(&'static str, &'static str)> {
    use DataResource as R;
    // Parsed as documented: the schema and this match come from one enum.
    let resource: DataResource =
        serde_json::from_value(serde_json::Value::String(resource.to_owned())).ok()?;
    match (resource, country) {
        (R::Owners, _) => Some(("owners", "/api/owners/")),
        (R::EmploymentRecords, Country::Mexico) => {
            Some(("employment_records", "/api/employment-records/"))
        }
        (R::EmploymentMetrics, Country::Mexico) => {
            Some(("employment_metrics", "/api/employment-metrics/"))
        }
        (R::Employments, Country::Brazil) => Some(("br_employments", "/api/br/employments/")),
        (R::Employments, Country::Colombia) => Some(("co_employments", "/api/co/employments/")),
        _ => None,
    }
}

/// A link's data from Belvo (owner only): `owners`, `employment-records` and
/// `employment-metrics` (MX), `employments` (BR, CO).
#[utoipa::path(
    get,
    path = "/v1/links/{link_id}/{resource}",
    tag = "links",
    params(
        ("link_id" = String, Path, format = Uuid),
        ("resource" = inline(DataResource), Path, description = "`employment-records` and `employment-metrics` for MX links, `employments` for BR and CO; `owners` for all"),
        Page,
    ),
    responses(
        (status = 200, description = "Belvo's paginated answer (count, next, previous, results)", body = DataPage),
        (status = 400, description = "invalid_query: page starts at 1, page_size is 1 to 1000, nothing else", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Not the caller's link, or a resource its country lacks", body = ErrorBody),
        (status = 409, description = "link_needs_reconnect: Belvo refused the link's credentials (`invalid_link`, `token_required`); its health is now `needs_reconnect`", body = ErrorBody),
        (status = 410, description = "link_gone: Belvo no longer has the link (health `gone`)", body = ErrorBody),
        (status = 502, description = "Belvo refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
        (status = 504, description = "Belvo did not answer in time", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn data(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<(LinkId, String)>,
    query: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let (id, resource) = path.into_inner();
    let (id, link) = owned_link(&state, &user, id).await?;
    let country = link
        .product
        .as_ref()
        .and_then(|p| state.settings.products.get(p))
        .map(|p| p.country)
        .ok_or_else(|| ApiError::not_found("link"))?;
    let (name, belvo_path) = endpoint(&resource, country).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("{resource} is not available for a {country} link (owners, employment-records, employment-metrics, employments)"),
        )
    })?;
    let page = query.page.unwrap_or(1);
    let page_size = query.page_size.unwrap_or(100);
    if page == 0 || page > 100_000 || !(1..=1000).contains(&page_size) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "page starts at 1; page_size is 1 to 1000",
        ));
    }
    if link.health.current() == Health::Gone {
        return Err(ErrorCode::LinkGone.into());
    }
    let body = match state
        .belvo
        .list(name, belvo_path, &id, page, page_size)
        .await
    {
        Ok(body) => body,
        Err(e) => return Err(refused(&state, &id, e).await),
    };
    let count = body["count"].as_u64().unwrap_or(0);
    let ours = |p: u32| format!("/v1/links/{id}/{resource}?page={p}&page_size={page_size}");
    let has_next = u64::from(page) * u64::from(page_size) < count;
    Ok(HttpResponse::Ok().json(DataPage {
        count,
        next: has_next.then(|| ours(page + 1)),
        previous: (page > 1).then(|| ours(page - 1)),
        results: body.get("results").cloned().unwrap_or(Value::Array(vec![])),
    }))
}

/// What a refused data call means for the app: Belvo's `400 invalid_link` / `428
/// token_required` mark the link `needs_reconnect` (409, not a 502); a 404 has Belvo's record
/// read, and a link Belvo no longer has is `gone` (410).
async fn refused(state: &AppState, id: &LinkId, error: BelvoError) -> ApiError {
    if let BelvoError::Rejected {
        status,
        code,
        message,
    } = &error
    {
        if let Some(problem) = data_call_problem(*status, code, message) {
            let change = HealthChange::CredentialsFailed(problem);
            return match health::apply(&state.store, id, change).await {
                Ok(_) => ErrorCode::LinkNeedsReconnect.into(),
                Err(e) => e.into(),
            };
        }
        if *status == 404 {
            if let Ok(Some(t)) = health::check(&state.belvo, &state.store, id, "api").await {
                if t.to == Health::Gone {
                    return ErrorCode::LinkGone.into();
                }
            }
        }
    }
    error.into()
}
