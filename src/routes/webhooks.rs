//! `POST /webhooks/belvo` (SPEC §6): Belvo tells us a link's data is ready.
//! Bearer token (or Basic password, SPEC §13) compared in constant time, optional source-IP allowlist behind trusted proxies,
//! body limit, schema-checked JSON; 2xx only once the write is in Redis, 503 when it is not.

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::auth::app_user::bearer;
use crate::client_addr::client_ip;
use crate::domain::consent::{ConsentSignal, CONSENT_CODES};
use crate::domain::country::Resource;
use crate::domain::health::HealthChange;
use crate::domain::session::now_millis;
use crate::domain::webhook::{WebhookApplied, WebhookPayload, WebhookUpdate};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

/// What a webhook changes in its link's health: a LINK webhook's credentials problem, a CONSENT
/// webhook's consent (SPEC §12), data arriving (which ends an expired consent).
fn health_changes(update: &WebhookUpdate, consent_open: bool) -> Vec<HealthChange> {
    let mut changes = Vec::new();
    if let Some(problem) = &update.health {
        changes.push(HealthChange::CredentialsFailed(problem.clone()));
    }
    if let Some(ConsentSignal::Change(change)) = &update.consent {
        changes.push(HealthChange::Consent(change.clone()));
    }
    if update.data_arrived && consent_open {
        changes.push(HealthChange::DataArrived);
    }
    changes
}

/// Checks who is calling before the body is parsed.
pub struct BelvoCaller;

impl actix_web::FromRequest for BelvoCaller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(authorize(req).map(|()| BelvoCaller))
    }
}

fn authorize(req: &HttpRequest) -> Result<(), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("app state missing"))?;
    let expected = state
        .settings
        .secrets
        .webhook_token
        .expose_secret()
        .as_bytes();
    let settings = &state.settings.webhooks;
    let token_ok = match bearer(req) {
        Ok(token) => bool::from(token.as_bytes().ct_eq(expected)),
        Err(_) => basic(req).is_some_and(|(user, password)| {
            let password_ok = password.as_bytes().ct_eq(expected);
            let user_ok = match &settings.basic_username {
                Some(wanted) => user.as_bytes().ct_eq(wanted.as_bytes()),
                None => subtle::Choice::from(1),
            };
            bool::from(password_ok & user_ok)
        }),
    };
    if !token_ok {
        tracing::warn!("webhook with missing or wrong credentials");
        return Err(ApiError::unauthorized(
            "a valid webhook bearer token (or Basic password) is required",
        ));
    }
    if !settings.allowed_ips.is_empty() {
        let source = client_ip(req, &settings.trusted_proxies);
        if !source.is_some_and(|ip| settings.allowed_ips.contains(&ip)) {
            tracing::warn!(?source, "webhook from an address outside the allowlist");
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "webhooks are accepted from Belvo's addresses only",
            ));
        }
    }
    Ok(())
}

/// `Authorization: Basic` credentials (user name, password); none when absent or not valid
/// base64 of `user:password` in UTF-8.
fn basic(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine;
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// What was done with a webhook.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookReceipt {
    /// recorded, duplicate (the same `webhook_id` again) or external_id_mismatch (kept in the
    /// link's timeline, not merged).
    #[schema(example = "recorded")]
    status: &'static str,
}

/// Belvo's webhooks: a link's data is ready (or failed). Answered 2xx only once recorded in
/// Redis; deduplicated by `webhook_id`.
#[utoipa::path(
    post,
    path = "/webhooks/belvo",
    tag = "webhooks",
    request_body = WebhookPayload,
    responses(
        (status = 200, description = "Recorded (or a duplicate)", body = WebhookReceipt),
        (status = 400, description = "Not a valid webhook", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token or Basic credentials", body = ErrorBody),
        (status = 403, description = "Source address outside the allowlist", body = ErrorBody),
        (status = 413, description = "Body over `webhooks.body_limit`", body = ErrorBody),
        (status = 503, description = "Not recorded: Redis unavailable (Belvo retries)", body = ErrorBody),
    ),
    security(("webhook_token" = []), ("webhook_basic" = []))
)]
pub async fn receive(
    state: web::Data<AppState>,
    _caller: BelvoCaller,
    payload: web::Json<WebhookPayload>,
) -> Result<HttpResponse, ApiError> {
    let payload = payload.into_inner();
    // Known resources only, so the metric's labels stay bounded.
    let resource = Resource::parse(payload.webhook_type.as_str()).map_or("other", Resource::as_str);
    let kind = format!("{}/{}", payload.webhook_type, payload.webhook_code);
    let update = payload
        .into_update(now_millis())
        .map_err(|e| ApiError::new(ErrorCode::InvalidWebhook, e.to_string()))?;
    let applied = match state.store.record_webhook(&update).await {
        Ok(applied) => applied,
        Err(e) => {
            crate::metrics::webhook_recorded(resource, "store_unavailable");
            return Err(e.into());
        }
    };
    // A LINK webhook's credentials problem, a CONSENT webhook's consent and the arrival of data
    // go to the link's health; a duplicate too, as the first delivery may have been recorded
    // without it (its answer was then an error). Never for another user's link.
    if matches!(
        applied,
        WebhookApplied::Recorded { .. } | WebhookApplied::Duplicate
    ) {
        // Data ends only a consent that needs something: one round trip for every other webhook.
        let consent_open = matches!(
            applied,
            WebhookApplied::Recorded {
                consent_open: true,
                ..
            }
        );
        for change in health_changes(&update, consent_open) {
            crate::links::health::apply(&state.store, &update.link, change).await?;
        }
    }
    let outcome = match applied {
        WebhookApplied::Recorded { .. } => "recorded",
        WebhookApplied::Duplicate => "duplicate",
        WebhookApplied::Mismatch => {
            tracing::error!(link = %update.link, "webhook external_id does not match the link owner: not merged");
            "external_id_mismatch"
        }
    };
    if let (Some(signal), WebhookApplied::Recorded { .. }) = (&update.consent, applied) {
        let code = match signal {
            ConsentSignal::Change(c) => CONSENT_CODES
                .iter()
                .find(|known| **known == c.code)
                .copied()
                .unwrap_or("unknown"),
            ConsentSignal::Unknown => "unknown",
        };
        crate::metrics::consent_webhook(code);
        if matches!(signal, ConsentSignal::Unknown) {
            tracing::warn!(link = %update.link, kind, "CONSENT webhook with a code we do not know: kept, changes nothing");
        }
    }
    crate::metrics::webhook_recorded(resource, outcome);
    tracing::info!(link = %update.link, kind, outcome, "belvo webhook");
    Ok(HttpResponse::Ok().json(WebhookReceipt { status: outcome }))
}
