//! `/demo` (embedded mode only): a page that plays the mobile app against this server's own
//! mobile API — mints a dev user token, opens a widget session, sends the browser to the widget,
//! and shows the recorded status and timeline when the widget sends it back. No JavaScript: the
//! status page refreshes itself while something is still pending.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::ids::{LinkId, SessionId};
use crate::error::{ApiError, ErrorCode};
use crate::jwt::{mint, Role};
use crate::pages::html;
use crate::state::AppState;

/// The demo's one user.
pub const DEMO_SUB: &str = "demo-user";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo", web::get().to(index))
        .route("/demo/sessions", web::post().to(create))
        .route("/demo/sessions/{id}", web::get().to(show))
        .route("/demo/links/{id}", web::get().to(link_page))
        .route("/demo/links/{id}/break", web::post().to(break_link))
        .route("/demo/links/{id}/reconnect", web::post().to(reconnect))
        .route(
            "/demo/links/{id}/renew-consent",
            web::post().to(super::demo_consent::renew),
        );
}

#[derive(Template)]
#[template(path = "demo/index.html")]
struct IndexPage {
    products: Vec<String>,
}

async fn index(state: web::Data<AppState>) -> HttpResponse {
    let products = state
        .settings
        .products
        .keys()
        .map(|p| p.to_string())
        .collect();
    html(StatusCode::OK, &IndexPage { products })
}

#[derive(Deserialize)]
struct CreateForm {
    product: String,
}

/// Opens a session through the public mobile API, as the app would, and goes to the widget.
async fn create(
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, ApiError> {
    let mut body = json!({"product": form.product, "platform": "web"});
    if form.product == "br_ofda" {
        body["consent"] = super::demo_consent::identification();
    }
    let url = format!("{}/v1/widget-sessions", state.local_base_url);
    to_widget(&state, url, body, "could not open a session").await
}

/// Opens a session through the mobile API (`POST url` with `body`, as the app would) and sends
/// the browser to its `widget_url`.
async fn to_widget(
    state: &AppState,
    url: String,
    body: Value,
    failed: &str,
) -> Result<HttpResponse, ApiError> {
    let response = api(state)?
        .post(url)
        .bearer_auth(demo_token(state)?)
        .json(&body)
        .send()
        .await
        .map_err(ApiError::internal)?;
    let status = response.status();
    let created: Value = response.json().await.map_err(ApiError::internal)?;
    if !status.is_success() {
        let message = created["error"]["message"].as_str().unwrap_or(failed);
        return Err(ApiError::new(ErrorCode::DemoFailed, message));
    }
    let widget_url = created["widget_url"].as_str().unwrap_or_default();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, widget_url))
        .finish())
}

#[derive(Template)]
#[template(path = "demo/session.html")]
struct SessionPage {
    session_id: String,
    /// Once Belvo confirmed the link: the way to the link's page.
    link_page: Option<String>,
    status: String,
    refresh: bool,
    status_json: String,
    timeline: Vec<TimelineRow>,
}

struct TimelineRow {
    at: String,
    kind: String,
    effect: String,
    detail: String,
}

/// The session as the app sees it (`GET /v1/widget-sessions/{id}`), plus its timeline.
async fn show(
    state: web::Data<AppState>,
    path: Result<web::Path<SessionId>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let id = path
        .map_err(|_| ApiError::not_found("session"))?
        .into_inner();
    let response = api(&state)?
        .get(format!("{}/v1/widget-sessions/{id}", state.local_base_url))
        .bearer_auth(demo_token(&state)?)
        .send()
        .await
        .map_err(ApiError::internal)?;
    if response.status().as_u16() == 404 {
        return Err(ApiError::not_found("session"));
    }
    let view: Value = response.json().await.map_err(ApiError::internal)?;
    let status = view["status"].as_str().unwrap_or("unknown").to_owned();
    let resources_pending = view["resources"]
        .as_object()
        .is_some_and(|r| r.values().any(|v| v["status"] == "pending"));
    // The session's callbacks and, once it has a link, the link's webhooks, in time order.
    let mut events = state.store.timeline(&id).await?;
    if let Some(link) = view["link_id"].as_str().and_then(|s| LinkId::parse(s).ok()) {
        events.extend(state.store.link_timeline(&link).await?);
    }
    events.sort_by_key(|e| e["at"].as_i64().unwrap_or_default());
    let timeline = events
        .into_iter()
        .map(|e| TimelineRow {
            at: e["at"]
                .as_i64()
                .map(crate::domain::session::rfc3339)
                .unwrap_or_default(),
            kind: e["kind"].as_str().unwrap_or_default().to_owned(),
            effect: e["effect"].as_str().unwrap_or_default().to_owned(),
            detail: detail(&e),
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &SessionPage {
            session_id: id.to_string(),
            // After a reconnect, the link page waits for the repaired health.
            link_page: (view["link_verified"] == true)
                .then(|| view["link_id"].as_str())
                .flatten()
                .map(|link| match view["mode"].as_str() {
                    Some("update") => format!("/demo/links/{link}?expect=ok"),
                    _ => format!("/demo/links/{link}"),
                }),
            refresh: status == "pending" || resources_pending,
            status,
            status_json: serde_json::to_string_pretty(&view).unwrap_or_default(),
            timeline,
        },
    ))
}

#[derive(Template)]
#[template(path = "demo/link.html")]
struct LinkPage {
    link_id: String,
    institution: String,
    health: String,
    /// A Brazil open-finance link's consent state (`None` for other links).
    consent: Option<String>,
    reason: Option<Reason>,
    refresh: bool,
    link_json: String,
}

struct Reason {
    what: String,
    user_action: String,
}

#[derive(Deserialize)]
struct LinkQuery {
    /// Set after "the password changed": refresh until the health changes.
    #[serde(default)]
    expect: Option<String>,
}

/// The link as the app sees it (`GET /v1/links/{id}`): its health, why, and what to do.
async fn link_page(
    state: web::Data<AppState>,
    path: Result<web::Path<LinkId>, actix_web::Error>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.map_err(|_| ApiError::not_found("link"))?.into_inner();
    let response = api(&state)?
        .get(format!("{}/v1/links/{id}", state.local_base_url))
        .bearer_auth(demo_token(&state)?)
        .send()
        .await
        .map_err(ApiError::internal)?;
    if !response.status().is_success() {
        return Err(ApiError::not_found("link"));
    }
    let view: Value = response.json().await.map_err(ApiError::internal)?;
    let health = view["health"].as_str().unwrap_or("ok").to_owned();
    let explanation = &view["health_reason"]["explanation"];
    let reason = explanation.is_object().then(|| Reason {
        what: explanation["what"].as_str().unwrap_or_default().to_owned(),
        user_action: explanation["user_action"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    });
    // Refresh while waiting for the change just asked for (a webhook, a verification).
    let refresh = query.expect.as_deref().is_some_and(|want| want != health);
    Ok(html(
        StatusCode::OK,
        &LinkPage {
            link_id: id.to_string(),
            institution: view["institution"].as_str().unwrap_or_default().to_owned(),
            consent: view["consent"]["state"].as_str().map(str::to_owned),
            health,
            reason,
            refresh,
            link_json: serde_json::to_string_pretty(&view).unwrap_or_default(),
        },
    ))
}

#[derive(Deserialize)]
struct BreakForm {
    /// `consent_expired` ("the consent expired"); otherwise the password changed.
    #[serde(default)]
    reason: Option<String>,
}

/// "Simulate: the password changed": Belvo's record of the link turns invalid and Belvo sends
/// the LINK webhook (the embedded emulator's control route), as when the user changes their
/// password at the institution. "Simulate: the consent expired" (open finance): Belvo sends the
/// consent-expired CONSENT webhook.
async fn break_link(
    state: web::Data<AppState>,
    path: Result<web::Path<LinkId>, actix_web::Error>,
    form: web::Form<BreakForm>,
) -> Result<HttpResponse, ApiError> {
    let id = path.map_err(|_| ApiError::not_found("link"))?.into_inner();
    let (reason, expect) = match form.reason.as_deref() {
        Some("consent_expired") => ("consent_expired", "consent_expired"),
        _ => ("invalid_credentials", "needs_reconnect"),
    };
    let secrets = &state.settings.secrets;
    let response = api(&state)?
        .post(format!(
            "{}/emulator/control/links/{id}/break",
            state.local_base_url
        ))
        .basic_auth(
            secrets.belvo_secret_id.expose_secret(),
            Some(secrets.belvo_secret_password.expose_secret()),
        )
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .map_err(ApiError::internal)?;
    if !response.status().is_success() {
        return Err(ApiError::new(
            ErrorCode::DemoFailed,
            "the emulator could not break this link",
        ));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/demo/links/{id}?expect={expect}"),
        ))
        .finish())
}

/// "Reconnect": an update-mode session through the mobile API, then its widget.
async fn reconnect(
    state: web::Data<AppState>,
    path: Result<web::Path<LinkId>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let id = path.map_err(|_| ApiError::not_found("link"))?.into_inner();
    let url = format!("{}/v1/links/{id}/reconnect", state.local_base_url);
    let body = json!({"platform": "web"});
    to_widget(&state, url, body, "could not reconnect the link").await
}

/// The event's Belvo values, as `key=value` text (escaped by the template).
fn detail(entry: &Value) -> String {
    let skip = ["kind", "at", "effect", "source", "request_id"];
    entry
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub(super) fn demo_token(state: &AppState) -> Result<String, ApiError> {
    mint(
        &state.settings,
        DEMO_SUB,
        Role::App,
        Duration::from_secs(600),
    )
    .map_err(ApiError::internal)
}

pub(super) fn api(_state: &AppState) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ApiError::internal)
}
