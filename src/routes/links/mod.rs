//! The mobile API for links (SPEC §4): the caller's links, their data proxied from Belvo, and
//! link creation through the API flow (CURP / CPF / cédula).

mod create;
mod data;
mod list;

use actix_web::web;

use crate::auth::AppUser;
use crate::domain::ids::LinkId;
use crate::domain::webhook::LinkState;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/links")
            .route("", web::get().to(list::list))
            .route("", web::post().to(create::create))
            .route("/{link_id}", web::get().to(list::show))
            .route("/{link_id}/{resource}", web::get().to(data::data)),
    );
}

/// A link the caller owns and Belvo confirmed; anything else is 404 (ids cannot be probed, and
/// a forged success's link is never served).
async fn owned_link(
    state: &AppState,
    user: &AppUser,
    raw: &str,
) -> Result<(LinkId, LinkState), ApiError> {
    let not_found = || ApiError::not_found("link");
    let id = LinkId::parse(raw).ok_or_else(not_found)?;
    let link = state.store.link(&id).await?.ok_or_else(not_found)?;
    let owned = link.owner.as_ref() == Some(&user.external_id);
    if !owned || link.verified != Some(true) || link.product.is_none() {
        return Err(not_found());
    }
    Ok((id, link))
}
