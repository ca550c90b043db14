//! Links: made through the API flow (`create.rs`) and their health (`health.rs`) — the service
//! between the thin HTTP routes and the Belvo client / store adapters, beside `sessions/` for
//! links made in the widget. `crate::scheduler` re-reads every link's record in the background.

mod consent;
mod create;
pub mod health;

use std::sync::Arc;

use crate::belvo::BelvoClient;
use crate::config::Settings;
use crate::store::DynStore;

pub use consent::{ConsentPortal, PortalRequest};
pub use create::{CreateLinkRequest, CreatedLink};

/// The links service: what making a link through the API flow needs (no HTTP, no `AppState`).
/// Built once in startup; its parts are shared handles.
pub struct Links {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub belvo: BelvoClient,
    /// My Belvo Portal (SPEC §12): Belvo's, or the emulator's when embedded.
    pub portal_url: String,
}
