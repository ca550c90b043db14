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
use crate::domain::funnel::KnownInstitutions;
use crate::domain::ids::SessionId;
use crate::domain::session::NewSession;
use crate::store::{DueEntry, DynStore, StoreError};

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
    /// The institutions the funnel counts by name (SPEC §14).
    pub known_institutions: Arc<KnownInstitutions>,
}

/// Every institution some configured product lists (in production or sandbox): the funnel
/// counts these by name and any other as `other`.
pub fn known_institutions(settings: &Settings) -> KnownInstitutions {
    KnownInstitutions::new(settings.products.values().flat_map(|p| {
        p.institutions_for(false)
            .iter()
            .chain(p.institutions_for(true))
            .map(|code| code.as_str())
    }))
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

    /// Records a new pending session and, when events go out, the due entry that expires it at
    /// its deadline with a `session.expired` event (none otherwise: no cost when events are
    /// off).
    async fn create(&self, session: &NewSession) -> Result<(), StoreError> {
        self.store.create_session(session).await?;
        if self.settings.notify.enabled() {
            let expire = DueEntry::Expire(session.id);
            // Expired once strictly past the deadline (`Session::status_at`).
            self.store
                .schedule(&expire, session.deadline + 1, true)
                .await?;
        }
        Ok(())
    }
}
