//! `POST /api/token/`: checks the body as Belvo does and returns `{access, refresh}` HS512 JWTs
//! with the claims shown in the OFDA guide. Access tokens live 10 minutes and stop working once
//! a user connects successfully.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpRequest, HttpResponse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;

use super::api_auth::{belvo_error, credentials_ok, denied};
use super::refusals::parse_body;
use super::{Emulator, IssuedToken};
use crate::belvo::types::{TokenRequest, TokenResponse};
use crate::config::product_values::{ConsentPermission, Scope};
use crate::config::products::MAX_PURPOSE;
use crate::domain::country::{Country, Resource};
use crate::domain::tax_id::{Cnpj, Cpf};

/// Fields a token request must carry (the widget needs somewhere to send the user back).
const REQUIRED: &[&str] = &[
    "id",
    "password",
    "scopes",
    "fetch_resources",
    "widget",
    "widget.callback_urls",
    "widget.callback_urls.success",
    "widget.callback_urls.exit",
    "widget.callback_urls.event",
];
const REFRESH_TTL_SECS: u64 = 24 * 3600;

pub async fn create(emulator: web::Data<Emulator>, body: web::Bytes) -> HttpResponse {
    emulator.counters.token.fetch_add(1, Ordering::Relaxed);
    if super::portal::is_consent_management(&body) {
        return super::portal::issue(&emulator, &body);
    }
    let request: TokenRequest = match parse_body(&body, REQUIRED) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    if !credentials_ok(&emulator, &request.id, &request.password) {
        return belvo_error(401, "authentication_failed", "Invalid credentials", None);
    }
    if request.fetch_resources.is_empty() {
        return belvo_error(
            400,
            "required",
            "This field is required.",
            Some("fetch_resources"),
        );
    }
    if let Err((field, message)) = check(&request) {
        return belvo_error(400, "invalid", &message, Some(field));
    }
    // Update mode: the link must be one of this secret's, and the token may read it.
    if let Some(link) = &request.link_id {
        if !emulator.state().links.contains_key(link) {
            return belvo_error(404, "not_found", "Not found.", None);
        }
        if !request.scopes.split(',').any(|s| s.trim() == "read_links") {
            return belvo_error(
                400,
                "invalid",
                "read_links is required to update a link",
                Some("scopes"),
            );
        }
    }
    let (access, jti, exp) = sign(&emulator, &request, "access", emulator.access_ttl_secs);
    let (refresh, _, _) = sign(&emulator, &request, "refresh", REFRESH_TTL_SECS);
    let mut stored = request;
    stored.password = String::new();
    let mut state = emulator.state();
    state.prune();
    state.tokens.insert(
        jti,
        IssuedToken {
            request: stored,
            exp,
            used: false,
        },
    );
    drop(state);
    HttpResponse::Ok().json(TokenResponse { access, refresh })
}

/// Belvo's checks on the token body, as the guides state them.
fn check(request: &TokenRequest) -> Result<(), (&'static str, String)> {
    let scopes = request
        .scopes
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| ("scopes", format!("Unknown scope {s}")))
        })
        .collect::<Result<Vec<Scope>, _>>()?;
    if !scopes.contains(&Scope::ReadInstitutions) || !scopes.contains(&Scope::WriteLinks) {
        return Err((
            "scopes",
            "read_institutions and write_links are required".into(),
        ));
    }
    let open_finance = request.widget.openfinance_feature.is_some();
    let mut resources = Vec::new();
    for raw in &request.fetch_resources {
        resources.push(Resource::parse(raw).ok_or_else(|| {
            (
                "fetch_resources",
                format!("\"{raw}\" is not a valid choice."),
            )
        })?);
    }
    // Some country must offer every resource requested together.
    let fits = Country::ALL
        .iter()
        .any(|c| resources.iter().all(|r| r.available_in(*c, open_finance)));
    if !fits {
        return Err((
            "fetch_resources",
            "These resources are not available together in any country.".into(),
        ));
    }
    let urls = &request.widget.callback_urls;
    for (name, value) in [
        ("success", &urls.success),
        ("exit", &urls.exit),
        ("event", &urls.event),
    ] {
        if url::Url::parse(value).is_err() {
            return Err(("widget.callback_urls", format!("{name} is not a valid URL")));
        }
    }
    if let Some(purpose) = &request.widget.purpose {
        if purpose.chars().count() > MAX_PURPOSE {
            return Err((
                "widget.purpose",
                format!("Ensure this field has no more than {MAX_PURPOSE} characters."),
            ));
        }
    }
    if open_finance {
        check_consent(request)?;
    }
    Ok(())
}

fn check_consent(request: &TokenRequest) -> Result<(), (&'static str, String)> {
    let consent = request.widget.consent.as_ref().ok_or((
        "widget.consent",
        "This field is required for open finance.".to_owned(),
    ))?;
    check_consent_fields(consent)
}

/// Belvo's checks on a consent's terms, permissions and identification.
pub(super) fn check_consent_fields(
    consent: &crate::belvo::types::Consent,
) -> Result<(), (&'static str, String)> {
    if url::Url::parse(&consent.terms_and_conditions_url).is_err() {
        return Err((
            "widget.consent.terms_and_conditions_url",
            "Enter a valid URL.".into(),
        ));
    }
    if consent.permissions.is_empty()
        || consent
            .permissions
            .iter()
            .any(|p| p.parse::<ConsentPermission>().is_err())
    {
        return Err(("widget.consent.permissions", "Invalid permissions.".into()));
    }
    if consent.identification_info.is_empty() {
        return Err((
            "widget.consent.identification_info",
            "This field is required.".into(),
        ));
    }
    for info in &consent.identification_info {
        let valid = match info.kind.as_str() {
            "CPF" => Cpf::parse(&info.number).is_some(),
            "CNPJ" => Cnpj::parse(&info.number).is_some(),
            _ => false,
        };
        if !valid || info.name.trim().is_empty() {
            return Err((
                "widget.consent.identification_info",
                "Invalid identification.".into(),
            ));
        }
    }
    Ok(())
}

/// Signs a token with the OFDA guide's claims; returns it with its `jti` and `exp`.
fn sign(
    emulator: &Emulator,
    request: &TokenRequest,
    kind: &str,
    ttl: u64,
) -> (String, String, u64) {
    let now = jsonwebtoken::get_current_timestamp();
    let jti = uuid::Uuid::new_v4().simple().to_string();
    let claims = json!({
        "token_type": kind,
        "exp": now + ttl,
        "iat": now,
        "jti": jti,
        "user_id": "6e9be884-4781-4143-b673-aca02475ee8c",
        "organization_name": "belvo-bff emulator",
        "organization_id": "6e9be884-4781-4143-b673-aca02475ee8c",
        "scopes": request.scopes.split(',').collect::<Vec<_>>(),
        "environment": "sandbox",
        "api_url": "emulator",
        "credentials_storage": request.credentials_storage.clone().unwrap_or_else(|| "30d".into()),
        "stale_in": request.stale_in.clone().unwrap_or_else(|| "365d".into()),
        "fetch_resources": request.fetch_resources,
        "iss": "emulator",
    });
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(&emulator.signing_key),
    )
    .expect("HS512 signing cannot fail");
    (token, jti, now + ttl)
}

/// What the widget finds when it reads its `access_token`.
pub enum TokenCheck {
    /// Usable: the request it was issued for.
    Valid { jti: String, request: TokenRequest },
    /// Ours, but expired or already used: Belvo answers `ACCESS_TOKEN_NOT_VALID`.
    NotValid { request: TokenRequest },
    /// Not a token we issued at all.
    Unknown,
}

pub fn check_access_token(emulator: &Emulator, token: &str) -> TokenCheck {
    let mut validation = Validation::new(Algorithm::HS512);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(&emulator.signing_key);
    let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) else {
        return TokenCheck::Unknown;
    };
    if data.claims["token_type"] != "access" {
        return TokenCheck::Unknown;
    }
    let jti = data.claims["jti"].as_str().unwrap_or_default().to_owned();
    let state = emulator.state();
    let Some(issued) = state.tokens.get(&jti) else {
        return TokenCheck::Unknown;
    };
    let now = jsonwebtoken::get_current_timestamp();
    if issued.used || issued.exp <= now {
        TokenCheck::NotValid {
            request: issued.request.clone(),
        }
    } else {
        TokenCheck::Valid {
            jti,
            request: issued.request.clone(),
        }
    }
}

/// Marks a token used after a successful link (Belvo invalidates it).
pub fn mark_used(emulator: &Emulator, jti: &str) {
    if let Some(t) = emulator.state().tokens.get_mut(jti) {
        t.used = true;
    }
}

/// `GET /_emulator/tokens/{jti}`: the token request received (without the password), for tools
/// and tests to see exactly what Belvo would have been sent. Basic auth like the API.
pub async fn show(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    jti: web::Path<String>,
) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    match emulator.state().tokens.get(jti.as_str()) {
        Some(issued) => HttpResponse::Ok().json(&issued.request),
        None => belvo_error(404, "not_found", "Not found.", None),
    }
}
