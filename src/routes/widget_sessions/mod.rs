//! The mobile API for widget sessions (SPEC §4).

mod create;
mod events;
mod show;
mod view;

pub use create::create;
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
    raw_id: &str,
) -> Result<Session, ApiError> {
    let not_found = || ApiError::not_found("session");
    let id = SessionId::parse(raw_id).ok_or_else(not_found)?;
    let session = state.store.session(&id).await?.ok_or_else(not_found)?;
    if session.record.owner != user.external_id {
        return Err(not_found());
    }
    Ok(session)
}

/// A session and, once it has one, its link (resources, verification).
pub struct Loaded {
    pub session: Session,
    pub link: Option<LinkState>,
}

/// Loads a session the caller owns and its link: one store round trip, two once linked.
async fn load(state: &AppState, user: &AppUser, raw_id: &str) -> Result<Loaded, ApiError> {
    let session = owned_session(state, user, raw_id).await?;
    let link = match &session.link_id {
        Some(link) => state.store.link(link).await?,
        None => None,
    };
    Ok(Loaded { session, link })
}
