//! What every handler shares: settings, store, Belvo client, verifiers, providers.

use std::sync::Arc;

use crate::belvo::types::CallbackUrls;
use crate::belvo::BelvoClient;
use crate::branding::BrandingCache;
use crate::config::Settings;
use crate::domain::ids::SessionId;
use crate::jwt::AppJwtVerifier;
use crate::sessions::waiting::Waiters;
use crate::shutdown::Shutdown;
use crate::store::DynStore;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub belvo: BelvoClient,
    pub app_jwt: AppJwtVerifier,
    /// Each product's widget look, kept fresh from the store.
    pub branding: Arc<BrandingCache>,
    /// Base of this server's public URLs (no trailing slash).
    pub public_base_url: String,
    /// How this server reaches itself (`http://127.0.0.1:{port}`).
    pub local_base_url: String,
    /// The hosted widget's URL.
    pub widget_url: String,
    /// Whether this replica is shutting down (readiness, long-polls).
    pub shutdown: Arc<Shutdown>,
    /// Who waits in a long-poll now (bounded by `limits`).
    pub waiters: Arc<Waiters>,
}

impl AppState {
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
