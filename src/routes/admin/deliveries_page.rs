//! `/admin/deliveries` (SPEC §13): the outbound events not delivered yet — pending ones with
//! their attempts, dead ones with the endpoint's last answer — and forms to replay one dead
//! delivery or all of them (CSRF-checked). Admins only.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::{audit, Admin};
use crate::notify::deliveries::{self, Delivery, DeliveryStatus};
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/deliveries.html")]
struct DeliveriesPage {
    nav: Option<Nav>,
    endpoints: Vec<String>,
    pending: Vec<Delivery>,
    dead: Vec<Delivery>,
    notice: Option<String>,
    csrf: String,
}

#[derive(Deserialize)]
pub struct Flash {
    replayed: Option<usize>,
}

pub async fn page(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    flash: web::Query<Flash>,
) -> Result<HttpResponse, PageError> {
    audit::record(&state, Some(&staff), "view_deliveries", "deliveries", "ok").await;
    let listed = deliveries::list(&state.store, &state.settings.notify, None).await?;
    let (pending, dead) = listed
        .into_iter()
        .partition(|d| d.status == DeliveryStatus::Pending);
    let notice = flash.replayed.map(|n| match n {
        0 => "Nothing replayed: that delivery is no longer dead.".to_owned(),
        1 => "Replayed 1 delivery: it is sent again now.".to_owned(),
        n => format!("Replayed {n} deliveries: they are sent again now."),
    });
    Ok(console::page(
        StatusCode::OK,
        &DeliveriesPage {
            nav: Nav::of(&staff, "deliveries"),
            endpoints: state
                .settings
                .notify
                .endpoints
                .iter()
                .map(|e| e.url.to_string())
                .collect(),
            pending,
            dead,
            notice,
            csrf: staff.csrf_token().to_owned(),
        },
    ))
}

#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
}

fn see_other(replayed: usize) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/admin/deliveries?replayed={replayed}"),
        ))
        .finish()
}

/// Replays one dead delivery.
pub async fn replay_one(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    path: web::Path<String>,
    form: web::Form<ReplayForm>,
) -> Result<HttpResponse, actix_web::Error> {
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let replayed = deliveries::replay(&state.store, &id)
        .await
        .map_err(PageError::from)?;
    let outcome = if replayed { "ok" } else { "not_found" };
    audit::record(&state, Some(&staff), "replay_delivery", &id, outcome).await;
    Ok(see_other(usize::from(replayed)))
}

/// Replays every dead delivery.
pub async fn replay_all(
    state: web::Data<AppState>,
    Admin(staff): Admin,
    form: web::Form<ReplayForm>,
) -> Result<HttpResponse, actix_web::Error> {
    staff.check_csrf(&form.csrf)?;
    let count = deliveries::replay_all(&state.store)
        .await
        .map_err(PageError::from)?;
    let target = format!("{count} dead deliveries");
    audit::record(&state, Some(&staff), "replay_all_deliveries", &target, "ok").await;
    Ok(see_other(count))
}
