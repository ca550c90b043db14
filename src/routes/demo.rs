//! `/demo` (embedded mode only): a page that plays the mobile app against this server's own
//! mobile API — mints a dev user token, opens a widget session, sends the browser to the widget,
//! and shows the recorded status and timeline when the widget sends it back. No JavaScript: the
//! status page refreshes itself while something is still pending.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
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
        .route("/demo/sessions/{id}", web::get().to(show));
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
        // The OFDA guide's sample user.
        body["consent"] = json!({"identification_info": [
            {"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]});
    }
    let response = api(&state)?
        .post(format!("{}/v1/widget-sessions", state.local_base_url))
        .bearer_auth(demo_token(&state)?)
        .json(&body)
        .send()
        .await
        .map_err(ApiError::internal)?;
    let status = response.status();
    let created: Value = response.json().await.map_err(ApiError::internal)?;
    if !status.is_success() {
        let message = created["error"]["message"]
            .as_str()
            .unwrap_or("could not open a session");
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
            refresh: status == "pending" || resources_pending,
            status,
            status_json: serde_json::to_string_pretty(&view).unwrap_or_default(),
            timeline,
        },
    ))
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

fn demo_token(state: &AppState) -> Result<String, ApiError> {
    mint(
        &state.settings,
        DEMO_SUB,
        Role::App,
        Duration::from_secs(600),
    )
    .map_err(ApiError::internal)
}

fn api(_state: &AppState) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ApiError::internal)
}
