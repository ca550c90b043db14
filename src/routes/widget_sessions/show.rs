//! `GET /v1/widget-sessions/{id}[?wait=N[&until=status|resources]]`: the session's state.
//! `wait` long-polls (≤ 30 s) until the status leaves `pending` (or, with `until=resources`,
//! until every resource has arrived too), woken by change notifications from any replica.

use std::time::Duration;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::view::SessionView;
use super::{load, not_found, owned, Loaded};
use crate::auth::AppUser;
use crate::domain::explanation::Lang;
use crate::domain::ids::SessionId;
use crate::domain::session::now_millis;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::sessions::waiting::SessionWatch;
use crate::state::AppState;

/// This handler's route, as `match_pattern` names it.
pub const ROUTE: &str = "/v1/widget-sessions/{session_id}";

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
    // Shared by the session's waiters that read the same, and a read made after a change by
    // those it woke.
    let mut loaded = changes.keep_first_read(load(&state, &user, &path).await?);
    let mut until = Some(query.until);
    loop {
        if let Some(answer) = answer(&loaded, &state, lang, until) {
            return Ok(answer);
        }
        if wait_for(&state, &mut changes, deadline).await {
            // Read once for all of this session's waiters woken by the change.
            let read = changes.read_after_change(state.store.session_with_link(&path));
            loaded = owned(read.await?.ok_or_else(not_found)?, &user)?;
        } else {
            until = None;
        }
    }
}

/// The session's view as the answer: when it is settled (`until`), or always (`None`). Not
/// async, so the view lives only in this call: a view made in the handler's loop kept its room
/// in the handler's future across the wait, even once dropped, and thousands may wait at once.
fn answer(
    loaded: &Loaded,
    state: &AppState,
    lang: Lang,
    until: Option<Until>,
) -> Option<HttpResponse> {
    let view = SessionView::new(loaded, state, now_millis(), lang);
    match until {
        Some(until) if !view.settled(until) => None,
        _ => Some(HttpResponse::Ok().json(view)),
    }
}

/// Moves a long-poll's request headers (`?wait=` on [`ROUTE`]) to a map of their own size.
/// actix-http gives every request a header map made for 16 names, about 6.7 KB of which a
/// request like the apps' uses a few hundred bytes, and a long-poll keeps its request for up to
/// `sessions.max_wait`: with 10,000 waiting, those maps were 67 MB of the heap. Other requests
/// keep actix's map (they end at once; moving costs a little time). Only the outermost
/// middleware may call this, before anything shares the request (`headers_mut` panics then).
pub fn fit_long_poll_headers(route: &str, req: &mut ServiceRequest) {
    if route != ROUTE || !req.query_string().contains("wait=") {
        return;
    }
    let headers = req.headers_mut();
    let mut fitted = HeaderMap::with_capacity(headers.len_keys());
    for (name, value) in std::mem::take(headers) {
        fitted.append(name, value);
    }
    *headers = fitted;
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

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    /// A request with its headers in a map made for 16 names, as actix-http's server makes
    /// every request's (`RequestHead::default`).
    fn request(uri: &str) -> ServiceRequest {
        let mut req = TestRequest::get().uri(uri).to_srv_request();
        let headers = req.headers_mut();
        *headers = HeaderMap::with_capacity(16);
        for (name, value) in [
            ("authorization", "Bearer token"),
            ("accept-language", "es"),
            ("accept-language", "en;q=0.5"),
        ] {
            headers.append(
                actix_web::http::header::HeaderName::from_static(name),
                actix_web::http::header::HeaderValue::from_static(value),
            );
        }
        req
    }

    fn headers(req: &ServiceRequest) -> Vec<(String, String)> {
        let mut all: Vec<_> = req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    #[test]
    fn a_long_poll_keeps_every_header_in_a_map_of_their_size() {
        let mut req = request("/v1/widget-sessions/x?wait=30");
        let before = headers(&req);
        assert!(req.headers().capacity() >= 16);
        fit_long_poll_headers(ROUTE, &mut req);
        assert_eq!(headers(&req), before);
        assert!(req.headers().capacity() < 8, "{}", req.headers().capacity());
    }

    #[test]
    fn other_requests_keep_actix_s_map() {
        for (route, uri) in [
            (ROUTE, "/v1/widget-sessions/x"),
            ("/w/{session_id}", "/w/x?wait=30"),
        ] {
            let mut req = request(uri);
            fit_long_poll_headers(route, &mut req);
            assert!(req.headers().capacity() >= 16);
        }
    }
}
