//! `POST /control/links/{link_id}/break` (SPEC §11): what happens to a link after its first
//! connection — the password changed, the institution wants a new token, the link was deleted.
//! Changes Belvo's record of the link and sends the matching LINK webhook (none for `gone`: the
//! record is deleted). Data calls on a broken link then answer as Belvo does (`data.rs`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::api_auth::{belvo_error, denied};
use super::{webhooks, Emulator};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Break {
    reason: Reason,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reason {
    InvalidCredentials,
    TokenRequired,
    Gone,
}

/// Belvo's answer to a data call on a link with this record status, if it refuses it.
pub fn data_refusal(status: &str) -> Option<HttpResponse> {
    match status {
        "invalid" => Some(belvo_error(
            400,
            "invalid_link",
            "This link is invalid. Please update it using the widget in update mode.",
            None,
        )),
        "token_required" => Some(belvo_error(
            428,
            "token_required",
            "A MFA token is required by the institution to login.",
            None,
        )),
        _ => None,
    }
}

pub async fn break_link(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    let request: Break = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return belvo_error(400, "invalid", &format!("Invalid request body: {e}"), None),
    };
    let mut state = emulator.state();
    let Some(link) = state.links.get_mut(id.as_str()) else {
        return belvo_error(404, "not_found", "Not found.", None);
    };
    let (status, code, message) = match request.reason {
        Reason::Gone => {
            state.links.remove(id.as_str());
            return HttpResponse::Ok().json(json!({"link_id": id.as_str(), "status": "deleted"}));
        }
        Reason::InvalidCredentials => (
            "invalid",
            "invalid_credentials",
            "Invalid credentials provided to login to the institution",
        ),
        Reason::TokenRequired => (
            "token_required",
            "token_required",
            "A MFA token is required by the institution to login.",
        ),
    };
    link.status = status;
    let payload = json!({
        "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
        "webhook_type": "LINK",
        "webhook_code": code,
        "process_type": "recurrent_update",
        "link_id": link.id,
        "request_id": uuid::Uuid::new_v4().to_string(),
        "external_id": link.external_id,
        "data": {
            "error_code": if code == "invalid_credentials" { "login_error" } else { code },
            "error_message": message,
            "status": if code == "token_required" { 428 } else { 400 },
        },
    });
    drop(state);
    webhooks::send(&emulator, vec![payload]);
    HttpResponse::Ok().json(json!({"link_id": id.as_str(), "status": status}))
}

/// `POST /control/links/{link_id}/repair`: the user fixed the link elsewhere (Belvo's record
/// reads `valid` again); no webhook, as Belvo sends none.
pub async fn repair_link(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    let mut state = emulator.state();
    let Some(link) = state.links.get_mut(id.as_str()) else {
        return belvo_error(404, "not_found", "Not found.", None);
    };
    link.status = "valid";
    HttpResponse::Ok().json(json!({"link_id": id.as_str(), "status": "valid"}))
}
