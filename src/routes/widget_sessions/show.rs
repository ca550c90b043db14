//! `GET /v1/widget-sessions/{id}[?wait=N[&until=status|resources]]`: the session's state.
//! `wait` long-polls (≤ 30 s) until the status leaves `pending` (or, with `until=resources`,
//! until every resource has arrived too), woken by change notifications from any replica.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::load;
use super::view::SessionView;
use crate::auth::AppUser;
use crate::domain::explanation::Lang;
use crate::domain::ids::SessionId;
use crate::domain::session::now_millis;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Until {
    /// The status leaves `pending`.
    #[default]
    Status,
    /// The status leaves `pending`, and after a success the link is checked and no resource is
    /// pending any more.
    Resources,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// Seconds to wait.
    #[serde(default)]
    wait: Option<u32>,
    #[serde(default)]
    until: Until,
}

pub async fn show(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let max_wait = state.settings.sessions.max_wait;
    let wait = match query.wait {
        Some(w) if Duration::from_secs(w.into()) > max_wait => {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("wait must be at most {} seconds", max_wait.as_secs()),
            ))
        }
        Some(w) => Duration::from_secs(w.into()),
        None => Duration::ZERO,
    };
    let lang = Lang::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    // Subscribe before reading, so a change between the read and the wait is not missed.
    let mut changes = state.store.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    let mut loaded = load(&state, &user, &path).await?;
    loop {
        let view = SessionView::new(&loaded, &state, now_millis(), lang);
        if view.settled(query.until)
            || !wait_for(&state, &mut changes, loaded.session.record.id, deadline).await
        {
            return Ok(HttpResponse::Ok().json(view));
        }
        loaded = load(&state, &user, &path).await?;
    }
}

/// Waits for a change to `id`; false once the deadline passes or the server is draining (the
/// app polls again, reaching another replica).
async fn wait_for(
    state: &AppState,
    changes: &mut tokio::sync::broadcast::Receiver<SessionId>,
    id: SessionId,
    deadline: tokio::time::Instant,
) -> bool {
    let changed = async {
        loop {
            match changes.recv().await {
                Ok(changed) if changed == id => return,
                Ok(_) => continue,
                // Missed some notifications: re-read to be safe.
                Err(RecvError::Lagged(_)) => return,
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        () = changed => true,
        () = tokio::time::sleep_until(deadline) => false,
        () = state.shutdown.drained() => false,
    }
}
