//! `GET /v1/widget-sessions/{id}[?wait=N]`: the session's state; `wait` long-polls (≤ 30 s)
//! until it leaves `pending`, woken by the store's change notifications from any replica.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::owned_session;
use super::view::SessionView;
use crate::auth::AppUser;
use crate::domain::explanation::Lang;
use crate::domain::session::{now_millis, Status};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// Seconds to wait for the status to leave `pending`.
    #[serde(default)]
    wait: Option<u32>,
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
    // Subscribe before reading, so a change between the read and the wait is not missed.
    let mut changes = state.store.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    let mut session = owned_session(&state, &user, &path).await?;
    while session.status_at(now_millis()) == Status::Pending {
        let woke = tokio::time::timeout_at(deadline, async {
            loop {
                match changes.recv().await {
                    Ok(id) if id == session.record.id => return,
                    Ok(_) => continue,
                    // Missed some notifications: re-read to be safe.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        std::future::pending::<()>().await
                    }
                }
            }
        })
        .await;
        if woke.is_err() {
            break;
        }
        session = owned_session(&state, &user, &path).await?;
    }
    let lang = Lang::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    Ok(HttpResponse::Ok().json(SessionView::new(&session, now_millis(), lang)))
}
