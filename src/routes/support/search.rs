//! `/support?q=...`: find connection attempts by session id, link id, external_id, or the app's
//! own user id (hashed exactly as sessions are, so staff can paste the id they were given).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use futures_util::future::join_all;
use serde::Deserialize;

use super::rows::SessionRow;
use crate::auth::{audit, Staff};
use crate::domain::external_id::ExternalId;
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{now_millis, Session};
use crate::routes::console::{self, Nav, PageError};
use crate::state::AppState;
use crate::store::StoreError;

/// The most sessions listed per user (newest first).
const MAX_SESSIONS: usize = 50;
/// Longest query looked up.
const MAX_QUERY: usize = 256;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// One way the query matched.
struct Match {
    /// e.g. "Session", "Link", "External id", "App user id".
    kind: &'static str,
    /// What it matched as (the id, or the external_id a user id hashes to).
    value: String,
    /// The user's external_id, when known: links to the user's other attempts.
    user: Option<String>,
    sessions: Vec<SessionRow>,
    links: Vec<String>,
}

#[derive(Template)]
#[template(path = "support/search.html")]
struct SearchPage {
    nav: Option<Nav>,
    q: String,
    matches: Vec<Match>,
    too_long: bool,
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let q = query.q.trim().to_owned();
    let too_long = q.len() > MAX_QUERY;
    let matches = if q.is_empty() || too_long {
        Vec::new()
    } else {
        find(&state, &q).await?
    };
    if !q.is_empty() {
        // Logged as matched (ids, hashed user ids), never the raw query: it may be an e-mail.
        let target = match matches.first() {
            Some(_) => matches
                .iter()
                .map(|m| format!("{} {}", m.kind, m.value))
                .collect::<Vec<_>>()
                .join("; "),
            None => format!(
                "no match (user id would be {})",
                ExternalId::derive(&state.settings.secrets.external_id_key, &q)
            ),
        };
        audit::record(&state, Some(&staff), "search", &target, "ok").await;
    }
    Ok(console::page(
        StatusCode::OK,
        &SearchPage {
            nav: Nav::of(&staff, "support"),
            q,
            matches,
            too_long,
        },
    ))
}

async fn find(state: &AppState, q: &str) -> Result<Vec<Match>, StoreError> {
    let mut matches = Vec::new();
    let now = now_millis();
    if let Ok(id) = SessionId::parse(q) {
        if let Some(session) = state.store.session(&id).await? {
            matches.push(Match {
                kind: "Session",
                value: id.to_string(),
                user: Some(session.record.owner.to_string()),
                links: session.link_id.iter().map(|l| l.to_string()).collect(),
                sessions: vec![SessionRow::new(&session, now)],
            });
        }
    }
    if let Ok(link) = LinkId::parse(q) {
        if let Some(state_of_link) = state.store.link(&link).await? {
            let sessions = match state_of_link.session {
                Some(id) => load(state, &[id]).await?,
                None => Vec::new(),
            };
            matches.push(Match {
                kind: "Link",
                value: link.to_string(),
                user: state_of_link.owner.map(|o| o.to_string()),
                sessions: sessions.iter().map(|s| SessionRow::new(s, now)).collect(),
                links: vec![link.to_string()],
            });
        }
    }
    let as_external_id = ExternalId::parse(q);
    if let Some(owner) = &as_external_id {
        if let Some(m) = user(state, owner, "External id", now).await? {
            matches.push(m);
        }
    }
    let hashed = ExternalId::derive(&state.settings.secrets.external_id_key, q);
    if as_external_id.as_ref() != Some(&hashed) {
        if let Some(m) = user(state, &hashed, "App user id", now).await? {
            matches.push(m);
        }
    }
    Ok(matches)
}

/// A user's sessions and links, `None` when there are neither.
async fn user(
    state: &AppState,
    owner: &ExternalId,
    kind: &'static str,
    now: i64,
) -> Result<Option<Match>, StoreError> {
    let ids = state.store.user_sessions(owner, MAX_SESSIONS).await?;
    let mut links = state.store.user_links(owner).await?;
    if ids.is_empty() && links.is_empty() {
        return Ok(None);
    }
    let sessions = load(state, &ids).await?;
    // Links the user made through the widget, and any claimed through the API.
    for link in sessions.iter().filter_map(|s| s.link_id) {
        if !links.contains(&link) {
            links.push(link);
        }
    }
    Ok(Some(Match {
        kind,
        value: owner.to_string(),
        user: Some(owner.to_string()),
        sessions: sessions.iter().map(|s| SessionRow::new(s, now)).collect(),
        links: links.iter().map(|l| l.to_string()).collect(),
    }))
}

/// Reads sessions concurrently, skipping any that expired since they were indexed.
async fn load(state: &AppState, ids: &[SessionId]) -> Result<Vec<Session>, StoreError> {
    let sessions = join_all(ids.iter().map(|id| state.store.session(id))).await;
    sessions.into_iter().filter_map(Result::transpose).collect()
}
