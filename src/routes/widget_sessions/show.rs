//! `GET /v1/widget-sessions/{id}[?wait=N[&until=status|resources]]`: the session's state.
//! `wait` long-polls (≤ 30 s) until the status leaves `pending` (or, with `until=resources`,
//! until every resource has arrived too), woken by change notifications from any replica.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::view::SessionView;
use super::{load, not_found, owned};
use crate::auth::AppUser;
use crate::domain::ids::SessionId;
use crate::domain::session::now_millis;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::sessions::waiting::SessionWatch;
use crate::state::AppState;

/// Set to `skipped` on a long-poll answered at once because too many requests wait already
/// (`limits.max_waiting`, `limits.max_waiting_per_user`).
pub const LONG_POLL_HEADER: &str = "X-Long-Poll";

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Until {
    /// The status leaves `pending`.
    #[default]
    Status,
    /// The status leaves `pending`, and after a success the link is checked and no resource is
    /// pending any more.
    Resources,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShowQuery {
    /// Long-poll: seconds (at most `sessions.max_wait`, 30) to wait for the status to leave
    /// `pending`; woken at once by a callback on any replica.
    #[serde(default)]
    #[param(maximum = 30)]
    wait: Option<u32>,
    /// What to wait for: `status` (default) or `resources` (also every resource's webhook).
    #[serde(default)]
    #[param(inline)]
    until: Until,
}

/// Reads a session (only its owner may); `?wait=N` long-polls until it leaves `pending`. When
/// too many requests wait already (in this process, or of this user), a long-poll answers at
/// once with the current state and `X-Long-Poll: skipped`.
#[utoipa::path(
    get,
    path = "/v1/widget-sessions/{session_id}",
    operation_id = "show_widget_session",
    tag = "widget sessions",
    params(("session_id" = String, Path, format = Uuid), ShowQuery),
    responses(
        (status = 200, description = "The session; explanations follow Accept-Language (es, pt, en)", body = SessionView,
            headers(("X-Long-Poll" = String, description = "`skipped` when a long-poll was answered at once because too many requests wait already (limits.max_waiting, limits.max_waiting_per_user)"))),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Missing or invalid app token", body = ErrorBody),
        (status = 404, description = "Unknown, or not the caller's", body = ErrorBody),
        (status = 503, description = "Storage briefly unavailable; retry", body = ErrorBody),
    ),
    security(("app_jwt" = []))
)]
pub async fn show(
    state: web::Data<AppState>,
    user: AppUser,
    path: web::Path<SessionId>,
    query: web::Query<ShowQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let max_wait = state.settings.sessions.max_wait;
    let wait = match query.wait {
        Some(w) if Duration::from_secs(w.into()) > max_wait => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("wait must be at most {} seconds", max_wait.as_secs()),
            ))
        }
        Some(w) => Duration::from_secs(w.into()),
        None => Duration::ZERO,
    };
    let lang = crate::routes::request_lang(&req);
    if wait.is_zero() {
        let loaded = load(&state, &user, &path).await?;
        return Ok(HttpResponse::Ok().json(SessionView::new(&loaded, &state, now_millis(), lang)));
    }
    // Past a cap, answer at once with the current state: the app polls again.
    let _slot = match state.waiters.enter(&user.external_id) {
        Ok(slot) => slot,
        Err(full) => {
            crate::metrics::long_poll_skipped(full.as_str());
            let loaded = load(&state, &user, &path).await?;
            let view = SessionView::new(&loaded, &state, now_millis(), lang);
            return Ok(HttpResponse::Ok()
                .insert_header((LONG_POLL_HEADER, "skipped"))
                .json(view));
        }
    };
    // Watch before reading, so a change between the read and the wait is not missed.
    let mut changes = state.waiters.watch(*path);
    let deadline = tokio::time::Instant::now() + wait;
    // An `Arc`: a read made after a change is shared by the session's waiters. No view is kept
    // across the wait (it holds allocations of its own, and thousands may wait at once).
    let mut loaded = Arc::new(load(&state, &user, &path).await?);
    loop {
        let view = SessionView::new(&loaded, &state, now_millis(), lang);
        if view.settled(query.until) {
            return Ok(HttpResponse::Ok().json(view));
        }
        drop(view);
        if !wait_for(&state, &mut changes, deadline).await {
            let view = SessionView::new(&loaded, &state, now_millis(), lang);
            return Ok(HttpResponse::Ok().json(view));
        }
        // Read once for all of this session's waiters woken by the change.
        let read = changes.read_after_change(state.store.session_with_link(&path));
        loaded = owned(read.await?.ok_or_else(not_found)?, &user)?;
    }
}

/// Waits for a change to the watched session; false once the deadline passes or the server is
/// draining (the app polls again, reaching another replica).
async fn wait_for(
    state: &AppState,
    changes: &mut SessionWatch,
    deadline: tokio::time::Instant,
) -> bool {
    tokio::select! {
        () = changes.changed() => true,
        () = tokio::time::sleep_until(deadline) => false,
        () = state.shutdown.drained() => false,
    }
}
