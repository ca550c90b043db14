//! The hosted widget, emulated: reads the URL parameters the real widget reads, shows the
//! institutions and the branding sent at token time, and offers every outcome. Each outcome
//! redirects to the token's callback URLs with Belvo's exact query strings. No JavaScript.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::institutions;
use super::token::{check_access_token, mark_used, TokenCheck};
use super::Emulator;
use crate::belvo::types::{CallbackUrls, TokenRequest};
use crate::pages::{error_page, html};

/// Query values are encoded as Belvo's examples show them (`%20` for spaces).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub const TOKEN_NOT_VALID: &str = "The access token was not provided or is not valid";

/// The URL parameters of the hosted widget (MX/BR guides and OFDA startup configuration).
#[derive(Debug, Deserialize)]
pub struct WidgetQuery {
    access_token: Option<String>,
    locale: Option<String>,
    institutions: Option<String>,
    access_mode: Option<String>,
    external_id: Option<String>,
    mode: Option<String>,
    integration_type: Option<String>,
    institution_types: Option<String>,
    country_codes: Option<String>,
    resources: Option<String>,
}

#[derive(Template)]
#[template(path = "emulator/widget.html")]
struct WidgetPage<'a> {
    mount: &'a str,
    access_token: &'a str,
    heading: &'a str,
    company_name: Option<&'a str>,
    company_logo: Option<&'a str>,
    has_color: bool,
    institutions: Vec<(String, String)>,
    access_mode: &'a str,
    external_id: &'a str,
    settings: Vec<(&'static str, String)>,
    /// Update mode: the token names a link to repair; only its outcomes are offered.
    update: bool,
}

fn heading(locale: &str) -> &'static str {
    match locale {
        "es" | "mx" => "Conecta tu cuenta",
        "pt" => "Conecte sua conta",
        _ => "Connect your account",
    }
}

/// Update mode's heading, naming the institution whose access is renewed.
fn update_heading(locale: &str, institution: &str) -> String {
    match locale {
        "es" | "mx" => format!("Actualiza tu acceso a {institution}"),
        "pt" => format!("Atualize seu acesso a {institution}"),
        _ => format!("Update your access to {institution}"),
    }
}

fn not_ours() -> HttpResponse {
    error_page(
        StatusCode::UNAUTHORIZED,
        "Widget link not valid",
        "This widget was opened without a valid access token. Start again from the app.",
    )
}

pub async fn page(emulator: web::Data<Emulator>, query: web::Query<WidgetQuery>) -> HttpResponse {
    let token = query.access_token.as_deref().unwrap_or_default();
    let request = match check_access_token(&emulator, token) {
        TokenCheck::Valid { request, .. } => request,
        TokenCheck::NotValid { request } => {
            return redirect(&request.widget.callback_urls.exit, &token_not_valid())
        }
        TokenCheck::Unknown => return not_ours(),
    };
    let open_finance = request.widget.openfinance_feature.is_some()
        || query.integration_type.as_deref() == Some("openfinance");
    let branding = request.widget.branding.as_ref();
    let locale = query.locale.as_deref().unwrap_or("en");
    // Update mode: the link's own institution, nothing else to pick.
    let repaired = request.link_id.as_ref().and_then(|id| {
        let state = emulator.state();
        state.links.get(id).map(|l| l.institution.clone())
    });
    let settings = [
        ("locale", query.locale.clone()),
        ("mode", query.mode.clone()),
        ("integration_type", query.integration_type.clone()),
        ("institution_types", query.institution_types.clone()),
        ("country_codes", query.country_codes.clone()),
        ("resources", query.resources.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    html(
        StatusCode::OK,
        &WidgetPage {
            mount: &emulator.mount,
            access_token: token,
            heading: &match &repaired {
                Some(institution) => update_heading(locale, institution),
                None => heading(locale).to_owned(),
            },
            company_name: branding.and_then(|b| b.company_name.as_deref()),
            company_logo: branding
                .and_then(|b| b.company_logo.as_ref())
                .map(|u| u.as_str()),
            has_color: branding.is_some_and(|b| b.overlay_background_color.is_some()),
            institutions: match &repaired {
                Some(institution) => vec![(institution.clone(), institution.clone())],
                None => institutions::for_widget(
                    query.institutions.as_deref(),
                    &request.fetch_resources,
                    open_finance,
                ),
            },
            access_mode: query.access_mode.as_deref().unwrap_or("recurrent"),
            external_id: query.external_id.as_deref().unwrap_or_default(),
            settings,
            update: repaired.is_some(),
        },
    )
}

#[derive(Deserialize)]
pub struct TokenQuery {
    access_token: String,
}

/// The branding colors as a stylesheet (the CSP allows no inline style).
pub async fn branding_css(
    emulator: web::Data<Emulator>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let color = match check_access_token(&emulator, &query.access_token) {
        TokenCheck::Valid { request, .. } => overlay_color(&request),
        _ => None,
    };
    let css = color
        .map(|c| format!(".widget-header {{ background: {c}; }}\n"))
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(css)
}

fn overlay_color(request: &TokenRequest) -> Option<String> {
    let branding = request.widget.branding.as_ref()?;
    let color = branding.overlay_background_color.as_ref()?;
    Some(String::from(color.clone()))
}

#[derive(Deserialize)]
pub struct OutcomeForm {
    access_token: String,
    outcome: String,
    #[serde(default)]
    institution: Option<String>,
    #[serde(default)]
    access_mode: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

/// What the user did in the widget, and where Belvo would send the webview.
pub async fn outcome(emulator: web::Data<Emulator>, form: web::Form<OutcomeForm>) -> HttpResponse {
    let (jti, request) = match check_access_token(&emulator, &form.access_token) {
        TokenCheck::Valid { jti, request } => (jti, request),
        TokenCheck::NotValid { request } => {
            return redirect(&request.widget.callback_urls.exit, &token_not_valid())
        }
        TokenCheck::Unknown => return not_ours(),
    };
    let urls: &CallbackUrls = &request.widget.callback_urls;
    let institution = form
        .institution
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| "planet_mx_employment".into());
    let exit_error = |code: &str, message: &str| {
        vec![
            ("last_encountered_error_code", code.to_owned()),
            ("last_encountered_error_message", message.to_owned()),
            ("meta_data_institution_name", institution.clone()),
        ]
    };
    let (target, query) = match form.outcome.as_str() {
        // Update mode: the same link, valid again (Belvo keeps the link id).
        "success" if request.link_id.is_some() => {
            let id = request.link_id.clone().unwrap_or_default();
            let repaired = match emulator.state().links.get_mut(&id) {
                Some(link) => {
                    link.status = "valid";
                    link.clone()
                }
                None => return redirect(&urls.exit, &token_not_valid()),
            };
            // A repaired recurrent link gets a fresh historical update, as at Belvo.
            if repaired.access_mode == "recurrent" {
                super::webhooks::schedule(&emulator, &repaired);
            }
            let institution = repaired.institution;
            mark_used(&emulator, &jti);
            (&urls.success, vec![("link", id), ("institution", institution)])
        }
        "success" => {
            let link = emulator.create_link(
                &institution,
                form.access_mode.as_deref().unwrap_or("recurrent"),
                form.external_id.clone().filter(|e| !e.is_empty()),
                request.fetch_resources.clone(),
                &format!("widget:{jti}"),
            );
            mark_used(&emulator, &jti);
            (&urls.success, vec![("link", link.id), ("institution", institution.clone())])
        }
        "login_error" => (&urls.exit, exit_error("login_error", "Invalid credentials provided to login to the institution")),
        "institution_down" => (&urls.exit, exit_error("institution_down", "The financial institution is down, try again later")),
        "too_many_sessions" => (&urls.exit, exit_error("too_many_sessions", "Impossible to login, a session is already opened with the institution for these credentials")),
        "unexpected_error" => (&urls.exit, exit_error("unexpected_error", "Belvo is unable to process the request due to an internal system issue or to an unsupported response from an institution")),
        "abandon" => (&urls.exit, vec![("meta_data_step", "abandon-survey".to_owned())]),
        "warning" => (
            &urls.event,
            vec![
                ("warning", "institution_disabled".to_owned()),
                ("warning_message", "The institution is temporarily unavailable.".to_owned()),
            ],
        ),
        "invalid_token" => (&urls.exit, token_not_valid()),
        _ => {
            return error_page(StatusCode::BAD_REQUEST, "Unknown outcome", "Pick one of the widget's buttons.")
        }
    };
    redirect(target, &query)
}

fn token_not_valid() -> Vec<(&'static str, String)> {
    vec![
        ("error", "ACCESS_TOKEN_NOT_VALID".to_owned()),
        ("error_message", TOKEN_NOT_VALID.to_owned()),
    ]
}

/// `target?k=v&...`, values encoded as Belvo does.
fn redirect(target: &str, query: &[(&str, String)]) -> HttpResponse {
    let encoded: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect();
    let separator = if target.contains('?') { '&' } else { '?' };
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("{target}{separator}{}", encoded.join("&")),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
