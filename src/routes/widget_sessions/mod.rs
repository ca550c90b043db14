//! The mobile API for widget sessions (SPEC §4).

mod create;
mod events;
mod show;
mod view;

pub use create::{create, CreatedSession};
pub use events::post_event;
pub use show::{fit_long_poll_headers, show, ROUTE as SHOW_ROUTE};

/// This area's part of `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create::create, show::show, events::post_event))]
pub struct Api;

use std::borrow::Borrow;

use crate::auth::AppUser;
use crate::domain::ids::SessionId;
use crate::domain::session::Session;
use crate::error::ApiError;
use crate::state::AppState;
/// A session and, once it has one, its link (resources, verification).
use crate::store::SessionWithLink as Loaded;

/// Loads a session the caller owns; anything else (unknown, malformed, someone else's) is 404,
/// so ids cannot be probed.
async fn owned_session(
    state: &AppState,
    user: &AppUser,
    id: &SessionId,
) -> Result<Session, ApiError> {
    let session = state.store.session(id).await?.ok_or_else(not_found)?;
    owned_by(session, user)
}

/// Loads a session the caller owns and its link: one store round trip (two on the first read
/// of a linked session on this replica, see `RedisStore::session_with_link`).
async fn load(state: &AppState, user: &AppUser, id: &SessionId) -> Result<Loaded, ApiError> {
    let read = state
        .store
        .session_with_link(id)
        .await?
        .ok_or_else(not_found)?;
    owned(read, user)
}

/// `read` if the caller owns its session; anything else is 404, like an unknown id.
fn owned<R: Borrow<Loaded>>(read: R, user: &AppUser) -> Result<R, ApiError> {
    if read.borrow().session.record.owner != user.external_id {
        return Err(not_found());
    }
    Ok(read)
}

fn not_found() -> ApiError {
    ApiError::not_found("session")
}

fn owned_by(session: Session, user: &AppUser) -> Result<Session, ApiError> {
    if session.record.owner != user.external_id {
        return Err(not_found());
    }
    Ok(session)
}
