//! What every handler shares: settings, store, Belvo client, verifiers, the services. It sits at
//! the HTTP level (routes and their extractors read it); the services below never see it.

use std::sync::Arc;

use crate::belvo::BelvoClient;
use crate::branding::{self, BrandingCache};
use crate::config::Settings;
use crate::domain::external_id::ExternalIdKey;
use crate::institutions::Institutions;
use crate::jwt::{AppJwtVerifier, VerifiedTokens};
use crate::links::Links;
use crate::sessions::waiting::Waiters;
use crate::sessions::Sessions;
use crate::shutdown::Shutdown;
use crate::store::DynStore;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub belvo: BelvoClient,
    pub app_jwt: AppJwtVerifier,
    /// App tokens verified lately, with their users.
    pub app_users: VerifiedTokens,
    /// `secrets.external_id_key`, ready to derive app users' external ids.
    pub external_ids: ExternalIdKey,
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
    /// The sessions service (open, record events).
    pub sessions: Sessions,
    /// The links service (the API flow).
    pub links: Links,
    /// Institution health (SPEC §14).
    pub institutions: Institutions,
}

impl AppState {
    /// The branding editor over this replica's store and cache.
    pub fn branding_editor(&self) -> branding::Editor<'_> {
        branding::Editor {
            store: &self.store,
            cache: &self.branding,
        }
    }
}
