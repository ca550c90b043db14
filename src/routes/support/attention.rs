//! `/support/links?health=needs_reconnect`: the links needing attention (SPEC §11), read from
//! the store's index per health value — never a scan of every link.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::{audit, Staff};
use crate::domain::health::Health;
use crate::domain::session::rfc3339;
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;

/// The most links listed per page (most recently changed first).
const MAX_LINKS: usize = 200;

#[derive(Deserialize)]
pub struct AttentionQuery {
    #[serde(default)]
    health: Option<String>,
}

struct Row {
    link: String,
    owner: String,
    /// The health the link has now (the index may be one change behind: see docs/store.md).
    health: &'static str,
    reason: String,
    changed_at: String,
}

#[derive(Template)]
#[template(path = "support/links.html")]
struct AttentionPage {
    nav: Option<Nav>,
    health: &'static str,
    /// Each health needing attention, and whether it is the one shown.
    choices: Vec<(&'static str, bool)>,
    rows: Vec<Row>,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<AttentionQuery>,
) -> Result<HttpResponse, PageError> {
    let health = match query.health.as_deref() {
        None | Some("") => Health::NeedsReconnect,
        Some(raw) => Health::needing_attention()
            .find(|h| h.as_str() == raw)
            .ok_or(PageError::NotFound("health"))?,
    };
    let listed = state.store.links_with_health(health, MAX_LINKS).await?;
    let mut rows = Vec::with_capacity(listed.len());
    for (id, changed_at) in listed {
        let Some(link) = state.store.link(&id).await? else {
            continue;
        };
        rows.push(Row {
            link: id.to_string(),
            owner: link.owner.map(|o| o.to_string()).unwrap_or_default(),
            health: link.health.current().as_str(),
            reason: link.health.reason.map(|r| r.code).unwrap_or_default(),
            changed_at: rfc3339(changed_at),
        });
    }
    audit::record(&state, Some(&staff), "list_links", health.as_str(), "ok").await;
    let page = AttentionPage {
        nav: Nav::of(&staff, "support"),
        health: health.as_str(),
        choices: Health::needing_attention()
            .map(|h| (h.as_str(), h == health))
            .collect(),
        rows,
    };
    Ok(console::page(StatusCode::OK, &page))
}
