//! `POST /control/links/{link_id}/break` (SPEC §11): what happens to a link after its first
//! connection — the password changed, the institution wants a new token, the open-finance
//! consent is about to expire or expired, the link was deleted. Changes Belvo's record of the
//! link and sends the matching LINK or CONSENT webhook (none for `gone`: the record is
//! deleted). Data calls on a broken link then answer as Belvo does (`data.rs`); an expired
//! consent leaves the record `valid`, as Belvo's link statuses know nothing of consents.

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
    ConsentExpiring,
    ConsentExpired,
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
        Reason::ConsentExpiring | Reason::ConsentExpired => {
            let payload = consent_webhook(link, request.reason);
            drop(state);
            webhooks::send(&emulator, vec![payload]);
            return HttpResponse::Ok().json(json!({"link_id": id.as_str(), "status": "valid"}));
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

/// Sets the link's consent as the reason says and builds Belvo's CONSENT webhook for it
/// (webhook-consents: `consent_due_date` when about to expire; the renewal details when expired,
/// in the portal guide's spelling of the code).
fn consent_webhook(link: &mut super::Link, reason: Reason) -> serde_json::Value {
    let consent = link.consent.get_or_insert_with(|| super::LinkConsent {
        id: uuid::Uuid::new_v4().to_string(),
        state: "active",
        due_date: String::new(),
    });
    let (code, data) = if matches!(reason, Reason::ConsentExpiring) {
        consent.state = "expiring";
        consent.due_date = crate::domain::session::rfc3339(
            crate::domain::session::now_millis() + 5 * 24 * 3600 * 1000,
        );
        (
            "openfinance_consent_about_to_expire",
            json!({"consent_id": consent.id, "consent_due_date": consent.due_date}),
        )
    } else {
        consent.state = "expired";
        consent.due_date = crate::domain::session::rfc3339(crate::domain::session::now_millis());
        let display = super::institutions::display_name(&link.institution);
        (
            "openfinance_consent_expired",
            json!({
                "consent_id": consent.id, "action": "renew", "institution": link.institution,
                "institution_display_name": display,
                "institution_icon_logo": "https://statics.belvo.io/widget/images/institutions/ofmockbank.svg",
            }),
        )
    };
    json!({
        "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
        "webhook_type": "CONSENT",
        "webhook_code": code,
        "process_type": "recurrent_update",
        "link_id": link.id,
        "request_id": uuid::Uuid::new_v4().to_string(),
        "external_id": link.external_id,
        "data": data,
    })
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
