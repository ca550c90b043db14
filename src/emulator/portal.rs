//! My Belvo Portal, emulated (SPEC §12): the `consent_management` token request (its own shape:
//! no `fetch_resources`, no callbacks) and the portal page it opens. The page checks the token,
//! shows the consent; "Renovar" renews it (a new due date), marks the link valid, sends the
//! link's `historical_update` webhooks again and ends on a page telling the user to return to
//! the app. No JavaScript.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::json;

use super::api_auth::{belvo_error, credentials_ok, denied};
use super::refusals::parse_body;
use super::token::check_consent_fields;
use super::{webhooks, Emulator, LinkConsent};
use crate::belvo::types::{ConsentManagementRequest, TokenResponse, CONSENT_MANAGEMENT_SCOPES};
use crate::domain::session::{now_millis, rfc3339};
use crate::pages::{error_page, html};

/// A portal token the emulator issued.
pub struct PortalToken {
    /// The request, without the password (what "Belvo" received).
    pub request: ConsentManagementRequest,
    pub exp: u64,
    pub used: bool,
}

const REQUIRED: &[&str] = &[
    "id",
    "password",
    "scopes",
    "widget",
    "widget.openfinance_feature",
    "widget.consent",
    "widget.consent.identification_info",
];

/// Whether a token body asks for `openfinance_feature: consent_management`.
pub fn is_consent_management(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v["widget"]["openfinance_feature"] == "consent_management")
}

/// `POST /api/token/` for the portal: Belvo's checks, then `{access, refresh}`.
pub fn issue(emulator: &Emulator, body: &[u8]) -> HttpResponse {
    let raw: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    // The widget's fields have no place here: the client must send the portal's own shape.
    for field in ["fetch_resources", "credentials_storage", "stale_in"] {
        if raw.get(field).is_some() {
            return belvo_error(
                400,
                "invalid",
                "This field is not allowed for consent_management.",
                Some(field),
            );
        }
    }
    if raw["widget"].get("callback_urls").is_some() {
        return belvo_error(
            400,
            "invalid",
            "This field is not allowed for consent_management.",
            Some("widget.callback_urls"),
        );
    }
    let request: ConsentManagementRequest = match parse_body(body, REQUIRED) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    if !credentials_ok(emulator, &request.id, &request.password) {
        return belvo_error(401, "authentication_failed", "Invalid credentials", None);
    }
    let mut scopes: Vec<&str> = request.scopes.split(',').map(str::trim).collect();
    scopes.sort_unstable();
    let mut wanted: Vec<&str> = CONSENT_MANAGEMENT_SCOPES.split(',').collect();
    wanted.sort_unstable();
    if scopes != wanted {
        return belvo_error(
            400,
            "invalid",
            &format!("consent_management needs exactly the scopes {CONSENT_MANAGEMENT_SCOPES}"),
            Some("scopes"),
        );
    }
    if let Err((field, message)) = check_consent_fields(&request.widget.consent) {
        return belvo_error(400, "invalid", &message, Some(field));
    }
    let now = jsonwebtoken::get_current_timestamp();
    let exp = now + emulator.access_ttl_secs;
    let sign = |kind: &str, jti: &str, exp: u64| {
        let claims = json!({
            "token_type": kind, "exp": exp, "iat": now, "jti": jti,
            "scopes": scopes, "openfinance_feature": "consent_management",
            "environment": "sandbox", "api_url": "emulator", "iss": "emulator",
        });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&emulator.signing_key),
        )
        .expect("HS512 signing cannot fail")
    };
    let jti = uuid::Uuid::new_v4().simple().to_string();
    let access = sign("access", &jti, exp);
    let refresh = sign(
        "refresh",
        &uuid::Uuid::new_v4().simple().to_string(),
        now + 86_400,
    );
    let mut stored = request;
    stored.password = String::new();
    let mut state = emulator.state();
    state.prune();
    state.portal_tokens.insert(
        jti,
        PortalToken {
            request: stored,
            exp,
            used: false,
        },
    );
    HttpResponse::Ok().json(TokenResponse { access, refresh })
}

/// The portal token's `jti` if it is ours, unused and not expired.
fn valid_token(emulator: &Emulator, token: &str) -> Option<String> {
    let mut validation = Validation::new(Algorithm::HS512);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(&emulator.signing_key);
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).ok()?;
    if data.claims["token_type"] != "access" {
        return None;
    }
    let jti = data.claims["jti"].as_str()?.to_owned();
    let state = emulator.state();
    let issued = state.portal_tokens.get(&jti)?;
    let now = jsonwebtoken::get_current_timestamp();
    (!issued.used && issued.exp > now).then_some(jti)
}

/// The portal's URL parameters (My Belvo Portal guide).
#[derive(Debug, Deserialize)]
pub struct PortalQuery {
    access_token: Option<String>,
    link_id: Option<String>,
    consent_id: Option<String>,
    institution: Option<String>,
    institution_display_name: Option<String>,
    action: Option<String>,
    mode: Option<String>,
}

/// One consent as the portal lists it.
struct ConsentRow {
    link_id: String,
    consent_id: String,
    institution: String,
    state: &'static str,
    due_date: String,
}

#[derive(Template)]
#[template(path = "emulator/portal.html")]
struct PortalPage<'a> {
    mount: &'a str,
    access_token: &'a str,
    /// The consent to renew (`action=renew`), else every consent known.
    renewing: bool,
    consents: Vec<ConsentRow>,
}

#[derive(Template)]
#[template(path = "emulator/portal_done.html")]
struct DonePage<'a> {
    institution: &'a str,
    due_date: &'a str,
}

fn token_refused() -> HttpResponse {
    error_page(
        StatusCode::UNAUTHORIZED,
        "Link do portal inválido",
        "Este link do Meu Portal Belvo não é válido ou expirou. Volte ao app e tente de novo.",
    )
}

/// `GET /portal/`: the public landing (`mode=landing`), or the consents a valid token may see.
pub async fn page(emulator: web::Data<Emulator>, query: web::Query<PortalQuery>) -> HttpResponse {
    let query = query.into_inner();
    let token = query.access_token.as_deref().unwrap_or_default();
    if query.mode.as_deref() == Some("landing") && token.is_empty() {
        return error_page(
            StatusCode::OK,
            "Meu Portal Belvo",
            "Entre com seu CPF para ver e gerenciar seus compartilhamentos (emulador).",
        );
    }
    if valid_token(&emulator, token).is_none() {
        return token_refused();
    }
    let renewing = query.action.as_deref() == Some("renew");
    let state = emulator.state();
    let consents: Vec<ConsentRow> = state
        .links
        .values()
        .filter(|l| !renewing || query.link_id.as_deref() == Some(l.id.as_str()))
        .filter_map(|l| {
            let consent = l.consent.as_ref()?;
            Some(ConsentRow {
                link_id: l.id.clone(),
                consent_id: query
                    .consent_id
                    .clone()
                    .filter(|_| renewing)
                    .unwrap_or_else(|| consent.id.clone()),
                institution: query
                    .institution_display_name
                    .clone()
                    .or_else(|| query.institution.clone())
                    .filter(|_| renewing)
                    .unwrap_or_else(|| l.institution.clone()),
                state: consent.state,
                due_date: consent.due_date.clone(),
            })
        })
        .collect();
    drop(state);
    if renewing && consents.is_empty() {
        return error_page(
            StatusCode::NOT_FOUND,
            "Consentimento não encontrado",
            "Não encontramos este consentimento. Volte ao app e tente de novo.",
        );
    }
    html(
        StatusCode::OK,
        &PortalPage {
            mount: &emulator.mount,
            access_token: token,
            renewing,
            consents,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct RenewForm {
    access_token: String,
    link_id: String,
}

/// `POST /portal/renew` ("Renovar"): a new due date, the link valid again, its
/// `historical_update` webhooks sent again; then the page that sends the user back to the app.
pub async fn renew(emulator: web::Data<Emulator>, form: web::Form<RenewForm>) -> HttpResponse {
    let Some(jti) = valid_token(&emulator, &form.access_token) else {
        return token_refused();
    };
    let mut state = emulator.state();
    let Some(link) = state.links.get_mut(&form.link_id) else {
        drop(state);
        return error_page(
            StatusCode::NOT_FOUND,
            "Consentimento não encontrado",
            "Não encontramos este consentimento. Volte ao app e tente de novo.",
        );
    };
    let due_date = rfc3339(now_millis() + 365 * 24 * 3600 * 1000);
    let id = link
        .consent
        .as_ref()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |c| c.id.clone());
    link.consent = Some(LinkConsent {
        id,
        state: "active",
        due_date: due_date.clone(),
    });
    link.status = "valid";
    let payloads = webhooks::payloads(link);
    let institution = link.institution.clone();
    if let Some(token) = state.portal_tokens.get_mut(&jti) {
        token.used = true;
    }
    drop(state);
    webhooks::send(&emulator, payloads);
    html(
        StatusCode::OK,
        &DonePage {
            institution: &institution,
            due_date: &due_date,
        },
    )
}

/// `GET /_emulator/portal-tokens/{jti}`: the `consent_management` request received (without
/// the password), so tests see exactly what Belvo was sent. Basic auth like the API.
pub async fn show(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    jti: web::Path<String>,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    match emulator.state().portal_tokens.get(jti.as_str()) {
        Some(issued) => HttpResponse::Ok().json(&issued.request),
        None => belvo_error(404, "not_found", "Not found.", None),
    }
}
