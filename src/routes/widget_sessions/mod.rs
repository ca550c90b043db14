//! The mobile API for widget sessions (SPEC §4).

mod create;
mod events;
mod show;
mod view;

pub use create::{create, CreatedSession};
pub use events::post_event;
pub use show::show;

/// This area's part of `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create::create, show::show, events::post_event))]
pub struct Api;

use crate::auth::AppUser;
use crate::domain::ids::SessionId;
use crate::domain::session::Session;
use crate::domain::webhook::LinkState;
use crate::error::ApiError;
use crate::state::AppState;

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

/// A session and, once it has one, its link (resources, verification).
pub struct Loaded {
    pub session: Session,
    pub link: Option<LinkState>,
}

/// Loads a session the caller owns and its link: one store round trip (two on the first read
/// of a linked session on this replica, see `RedisStore::session_with_link`).
async fn load(state: &AppState, user: &AppUser, id: &SessionId) -> Result<Loaded, ApiError> {
    let read = state
        .store
        .session_with_link(id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Loaded {
        session: owned_by(read.session, user)?,
        link: read.link,
    })
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
