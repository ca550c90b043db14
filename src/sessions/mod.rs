//! Opening widget sessions and recording what the widget reports: the service between the thin
//! HTTP routes and the Belvo client / store adapters.

mod open;
mod reconnect;
mod record;
pub mod token_budget;
pub mod verify;
pub mod waiting;
pub mod widget;

use std::sync::Arc;

use crate::belvo::types::CallbackUrls;
use crate::belvo::BelvoClient;
use crate::branding::BrandingCache;
use crate::config::Settings;
use crate::domain::ids::SessionId;
use crate::store::DynStore;

pub use open::{consent_for, ConsentRequest, IdentificationRequest, OpenRequest, OpenedSession};
pub use reconnect::ReconnectRequest;

/// The sessions service: what opening a session and recording its events need, and nothing
/// else (no HTTP, no `AppState`). Built once in startup; its parts are shared handles.
pub struct Sessions {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub belvo: BelvoClient,
    /// Each product's widget look, kept fresh from the store.
    pub branding: Arc<BrandingCache>,
    /// Base of this server's public URLs (no trailing slash).
    pub public_base_url: String,
    /// The hosted widget's URL.
    pub widget_url: String,
}

impl Sessions {
    /// `{public_base_url}/callbacks/{id}/{success|exit|event}`, as given to Belvo.
    pub fn callback_urls(&self, id: &SessionId) -> CallbackUrls {
        let base = format!("{}/callbacks/{id}", self.public_base_url);
        CallbackUrls {
            success: format!("{base}/success"),
            exit: format!("{base}/exit"),
            event: format!("{base}/event"),
        }
    }
}
