//! The mobile API for links (SPEC §4): the caller's links, their data proxied from Belvo, and
//! link creation through the API flow (CURP / CPF / cédula).

mod check;
mod consent;
mod create;
mod data;
mod delete;
mod list;
mod reconnect;

use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::domain::webhook::LinkState;
use crate::error::ApiError;
use crate::state::AppState;

pub use check::check;
pub use consent::{open_portal, public_portal, renew as renew_consent};
pub use create::create;
pub use data::data;
pub use delete::delete;
pub use list::{list, show};
pub use reconnect::reconnect;

/// This area's part of `/openapi.json` (its routes are in `routes::api_routes`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list::list,
    create::create,
    list::show,
    delete::delete,
    reconnect::reconnect,
    consent::renew,
    consent::open_portal,
    consent::public_portal,
    data::data,
    check::check
))]
pub struct Api;

/// Whether the link was made for a Brazil open-finance product (it has a consent, SPEC §12).
fn is_open_finance(state: &AppState, link: &LinkState) -> bool {
    link.product
        .as_ref()
        .and_then(|p| state.settings.products.get(p))
        .is_some_and(|p| p.open_finance.is_some())
}

/// A link the caller owns and Belvo confirmed; anything else is 404 (ids cannot be probed, and
/// a forged success's link is never served).
async fn owned_link(
    state: &AppState,
    user: &AppUser,
    id: LinkId,
) -> Result<(LinkId, LinkState), ApiError> {
    let not_found = || ApiError::not_found("link");
    let link = state.store.link(&id).await?.ok_or_else(not_found)?;
    let owned = link.owner.as_ref() == Some(&user.external_id);
    if !owned || link.verified != Some(true) || link.product.is_none() {
        return Err(not_found());
    }
    Ok((id, link))
}
