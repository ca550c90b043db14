//! `GET /v1/links/{id}/{owners|employment-records|employment-metrics|employments|accounts|transactions}`:
//! the link's data from Belvo, owner-only, pagination passed through (`page`, `page_size`);
//! transactions also by value date (`date_from`, `date_to`).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::owned_link;
use crate::auth::AppUser;
use crate::belvo::BelvoError;
use crate::config::products::ProductSettings;
use crate::domain::country::{Country, Resource};
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
    /// Transactions only: the earliest value date (`YYYY-MM-DD`, inclusive).
    #[serde(default)]
    #[param(value_type = Option<String>, format = Date, example = "2024-06-01")]
    date_from: Option<String>,
    /// Transactions only: the latest value date (`YYYY-MM-DD`, inclusive).
    #[serde(default)]
    #[param(value_type = Option<String>, format = Date, example = "2024-06-30")]
    date_to: Option<String>,
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
    Accounts,
    Transactions,
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

/// Belvo's endpoint for a resource of a link of `product`: employment records and metrics by
/// the product's country; employments and open-finance data (`br_ofda`) when the product
/// fetches them (a Brazilian open-finance link has no employments).
fn endpoint(
    resource: &str,
    product: &ProductSettings,
) -> Option<(DataResource, &'static str, &'static str)> {
    use DataResource as R;
    // Parsed as documented: the schema and this match come from one enum.
    let resource: DataResource =
        serde_json::from_value(serde_json::Value::String(resource.to_owned())).ok()?;
    let fetches = |r: Resource| product.fetch_resources.contains(&r);
    let (name, path) = match (resource, product.country) {
        (R::Owners, _) => ("owners", "/api/owners/"),
        (R::EmploymentRecords, Country::Mexico) => {
            ("employment_records", "/api/employment-records/")
        }
        (R::EmploymentMetrics, Country::Mexico) => {
            ("employment_metrics", "/api/employment-metrics/")
        }
        (R::Employments, Country::Brazil) if fetches(Resource::Employments) => {
            ("br_employments", "/api/br/employments/")
        }
        (R::Employments, Country::Colombia) if fetches(Resource::Employments) => {
            ("co_employments", "/api/co/employments/")
        }
        (R::Accounts, _) if fetches(Resource::Accounts) => ("accounts", "/api/accounts/"),
        (R::Transactions, _) if fetches(Resource::Transactions) => {
            ("transactions", "/api/transactions/")
        }
        _ => return None,
    };
    Some((resource, name, path))
}

/// Belvo's `value_date` filters from `date_from` / `date_to` (transactions only).
fn date_filters(
    resource: DataResource,
    query: &Page,
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let parse = |raw: &Option<String>, name: &str| {
        raw.as_deref()
            .map(|d| {
                time::Date::parse(d, format).map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidQuery,
                        format!("{name} is a date: YYYY-MM-DD"),
                    )
                })
            })
            .transpose()
    };
    let from = parse(&query.date_from, "date_from")?;
    let to = parse(&query.date_to, "date_to")?;
    if (from.is_some() || to.is_some()) && !matches!(resource, DataResource::Transactions) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "date_from and date_to apply to transactions only",
        ));
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "date_from is after date_to",
            ));
        }
    }
    let mut filters = Vec::new();
    if let Some(from) = from {
        filters.push(("value_date__gte", from.to_string()));
    }
    if let Some(to) = to {
        filters.push(("value_date__lte", to.to_string()));
    }
    Ok(filters)
}

/// A link's data from Belvo (owner only): `owners`, `employment-records` and
/// `employment-metrics` (MX), `employments` (BR, CO), `accounts` and `transactions` (Brazil
/// open finance, `br_ofda`; transactions by value date with `date_from` / `date_to`).
#[utoipa::path(
    get,
    path = "/v1/links/{link_id}/{resource}",
    tag = "links",
    params(
        ("link_id" = String, Path, format = Uuid),
        ("resource" = inline(DataResource), Path, description = "`employment-records` and `employment-metrics` for MX links, `employments` for BR and CO, `accounts` and `transactions` for open-finance (`br_ofda`) links; `owners` for all"),
        Page,
    ),
    responses(
        (status = 200, description = "Belvo's paginated answer (count, next, previous, results)", body = DataPage),
        (status = 400, description = "invalid_query: page starts at 1, page_size is 1 to 1000, date_from / date_to are YYYY-MM-DD on transactions only, nothing else", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Not the caller's link, or a resource its product lacks", body = ErrorBody),
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
    let product = link
        .product
        .as_ref()
        .and_then(|p| state.settings.products.get(p))
        .ok_or_else(|| ApiError::not_found("link"))?;
    let (kind, name, belvo_path) = endpoint(&resource, product).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("{resource} is not available for this link (owners, employment-records, employment-metrics, employments, accounts, transactions by product)"),
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
    let filters = date_filters(kind, &query)?;
    if link.health.current() == Health::Gone {
        return Err(ErrorCode::LinkGone.into());
    }
    let body = match state
        .belvo
        .list(name, belvo_path, &id, page, page_size, &filters)
        .await
    {
        Ok(body) => body,
        Err(e) => return Err(refused(&state, &id, e).await),
    };
    let count = body["count"].as_u64().unwrap_or(0);
    let dates: String = [("date_from", &query.date_from), ("date_to", &query.date_to)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("&{k}={v}")))
        .collect();
    let ours = |p: u32| format!("/v1/links/{id}/{resource}?page={p}&page_size={page_size}{dates}");
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
