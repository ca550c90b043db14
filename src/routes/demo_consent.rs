//! The demo's Brazil open-finance consent journey (SPEC §12): a `br_ofda` link whose consent
//! expired offers "Renew consent", which asks the mobile API for the renewal URL (with the demo
//! user's CPF, as the app would) and sends the browser to My Belvo Portal (the emulator's).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::demo::{api, demo_token};
use crate::domain::ids::LinkId;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The demo user's identification: the OFDA guide's sample user.
pub(super) fn identification() -> Value {
    json!({"identification_info": [
        {"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]})
}

/// "Renew consent": `POST /v1/links/{id}/consent-renewal`, then the portal.
pub(super) async fn renew(
    state: web::Data<AppState>,
    path: Result<web::Path<LinkId>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let id = path.map_err(|_| ApiError::not_found("link"))?.into_inner();
    let response = api(&state)?
        .post(format!(
            "{}/v1/links/{id}/consent-renewal",
            state.local_base_url
        ))
        .bearer_auth(demo_token(&state)?)
        .json(&identification())
        .send()
        .await
        .map_err(ApiError::internal)?;
    let status = response.status();
    let body: Value = response.json().await.map_err(ApiError::internal)?;
    let Some(url) = body["url"].as_str().filter(|_| status.is_success()) else {
        let message = body["error"]["message"].as_str().unwrap_or("unknown error");
        return Err(ApiError::new(
            ErrorCode::DemoFailed,
            format!("could not renew the consent: {message}"),
        ));
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.to_owned()))
        .finish())
}
