//! `POST /v1/widget-sessions`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::auth::AppUser;
use crate::domain::session::rfc3339;
use crate::error::ApiError;
use crate::state::AppState;
use crate::widget::{open_session, OpenRequest};

pub async fn create(
    state: web::Data<AppState>,
    user: AppUser,
    body: web::Json<OpenRequest>,
) -> Result<HttpResponse, ApiError> {
    let opened = open_session(&state, &user, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(json!({
        "session_id": opened.session.id,
        "product": opened.session.product,
        "platform": opened.session.platform,
        "widget_url": opened.widget_url,
        "expires_at": rfc3339(opened.session.token_expires_at),
        "callback_urls": opened.callback_urls,
    })))
}
