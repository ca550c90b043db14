//! `GET /v1/admin/deliveries` and `POST /v1/admin/deliveries/{id}/replay` (SPEC §13) for
//! automation: admin staff token, or an admin console session sending `X-CSRF-Token` to replay.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::{audit, Admin};
use crate::error::{ApiError, ErrorBody};
use crate::notify::deliveries::{self, Delivery, DeliveryStatus};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending` or `dead`; absent: both.
    status: Option<DeliveryStatus>,
}

/// The deliveries listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// Pending ones per endpoint (oldest first), then dead ones (newest first); at most 200
    /// of each per endpoint.
    deliveries: Vec<Delivery>,
}

/// What a replay did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayReceipt {
    /// `replayed`: back in the outbox for its endpoint, with its `webhook-id`.
    #[schema(example = "replayed")]
    status: &'static str,
    id: String,
}

/// Outbound event deliveries not yet done: pending (in flight or waiting for a retry) and dead
/// (with the endpoint's last answer).
#[utoipa::path(
    get,
    path = "/v1/admin/deliveries",
    tag = "admin",
    params(ListQuery),
    responses(
        (status = 200, description = "The deliveries", body = DeliveryList),
        (status = 400, description = "invalid_query: an unknown status", body = ErrorBody),
        (status = 401, description = "No staff token or console session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("staff_jwt" = []))
)]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    Admin(_staff): Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let listed = deliveries::list(&state.store, &state.settings.notify, query.status).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(DeliveryList { deliveries: listed }))
}

/// Replays a dead delivery: back in the outbox for its endpoint alone, with the same
/// `webhook-id`, retried again up to `notify.max_age` from now.
#[utoipa::path(
    post,
    path = "/v1/admin/deliveries/{id}/replay",
    tag = "admin",
    params(("id" = String, Path, description = "A dead delivery's id, from the list")),
    responses(
        (status = 200, description = "Replayed", body = ReplayReceipt),
        (status = 401, description = "No staff token or console session", body = ErrorBody),
        (status = 403, description = "Not an admin, or a console request without its CSRF token", body = ErrorBody),
        (status = 404, description = "No such dead delivery (or already replayed)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("staff_jwt" = []))
)]
pub async fn replay_delivery(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, actix_web::Error> {
    staff.check_csrf_header(&req)?;
    let id = path.into_inner();
    let replayed = deliveries::replay(&state.store, &id)
        .await
        .map_err(ApiError::from)?;
    let outcome = if replayed { "ok" } else { "not_found" };
    audit::record(&state, Some(&staff), "replay_delivery", &id, outcome).await;
    if !replayed {
        return Err(ApiError::not_found("dead delivery").into());
    }
    Ok(HttpResponse::Ok().json(ReplayReceipt {
        status: "replayed",
        id,
    }))
}
