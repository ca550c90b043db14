//! Each product's widget look as new sessions get it: the configuration's, replaced by what
//! admins saved. Kept in memory on every replica so opening a session reads nothing from the
//! store; reloaded (one read for all products) whenever any replica saves — announced over the
//! store's pub/sub — and every [`REFRESH_EVERY`] as a safety net.

mod edit;
mod input;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::config::ProductSettings;
use crate::domain::branding_version::{BrandingVersion, WidgetLook};
use crate::domain::ids::ProductName;
use crate::store::{DynStore, Store};

pub use edit::{EditError, Editor};
pub use input::{BrandingInput, FieldErrors};

/// How often every replica reloads even without an announcement (a missed message heals).
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How soon a failed reload is retried.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub struct BrandingCache {
    /// Version 0 of each product: its `[products.NAME]` branding and theme.
    config: BTreeMap<ProductName, BrandingVersion>,
    /// The latest saved version of each product that has one.
    saved: RwLock<BTreeMap<ProductName, BrandingVersion>>,
}

impl BrandingCache {
    /// Loads what is saved and keeps it fresh until the cache is dropped. A store that does not
    /// answer now leaves the configuration's look in place until it does.
    pub async fn start(
        store: DynStore,
        products: &BTreeMap<ProductName, ProductSettings>,
    ) -> Arc<Self> {
        let cache = Arc::new(Self::from_config(products));
        let loaded = cache.reload(store.as_ref()).await;
        tokio::spawn(keep_fresh(
            Arc::downgrade(&cache),
            Arc::downgrade(&store),
            loaded,
        ));
        cache
    }

    fn from_config(products: &BTreeMap<ProductName, ProductSettings>) -> Self {
        let config = products
            .iter()
            .map(|(name, p)| {
                let look = WidgetLook {
                    branding: p.branding.clone(),
                    theme: p.theme.clone(),
                };
                (
                    name.clone(),
                    BrandingVersion::from_config(name.clone(), look),
                )
            })
            .collect();
        Self {
            config,
            saved: RwLock::default(),
        }
    }

    /// The look new sessions of `product` get; `None` for a product not configured.
    pub fn look(&self, product: &ProductName) -> Option<WidgetLook> {
        self.current(product).map(|v| v.look)
    }

    /// The version in force for `product` (0: the configuration's).
    pub fn current(&self, product: &ProductName) -> Option<BrandingVersion> {
        let config = self.config.get(product)?;
        let saved = self.saved.read().unwrap_or_else(|p| p.into_inner());
        Some(saved.get(product).unwrap_or(config).clone())
    }

    /// The configuration's look of `product`, as version 0.
    pub fn config_version(&self, product: &ProductName) -> Option<&BrandingVersion> {
        self.config.get(product)
    }

    /// The configured products, in order.
    pub fn products(&self) -> impl Iterator<Item = &ProductName> {
        self.config.keys()
    }

    /// Takes a version this replica just saved, without waiting for the announcement.
    fn saved_here(&self, version: &BrandingVersion) {
        let mut saved = self.saved.write().unwrap_or_else(|p| p.into_inner());
        let newer = saved
            .get(&version.product)
            .is_none_or(|cached| cached.version < version.version);
        if newer {
            saved.insert(version.product.clone(), version.clone());
        }
    }

    /// Replaces the cache with what the store holds, except where this replica already has a
    /// newer version than the read saw (it saved while the read was in flight).
    fn replace(&self, loaded: Vec<BrandingVersion>) {
        let mut fresh: BTreeMap<ProductName, BrandingVersion> = loaded
            .into_iter()
            .filter(|v| self.config.contains_key(&v.product))
            .map(|v| (v.product.clone(), v))
            .collect();
        let mut saved = self.saved.write().unwrap_or_else(|p| p.into_inner());
        for (product, cached) in saved.iter() {
            if let Some(read) = fresh.get_mut(product) {
                if read.version < cached.version {
                    *read = cached.clone();
                }
            }
        }
        *saved = fresh;
    }

    async fn reload(&self, store: &dyn Store) -> bool {
        match store.current_branding().await {
            Ok(versions) => {
                self.replace(versions);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not load saved branding; keeping the last known");
                false
            }
        }
    }
}

/// Reloads on every announcement, on a timer, and soon after a failure; stops with the cache.
async fn keep_fresh(cache: Weak<BrandingCache>, store: Weak<dyn Store>, mut ok: bool) {
    let Some(mut changes) = store.upgrade().map(|s| s.branding_changes()) else {
        return;
    };
    loop {
        let wait = if ok { REFRESH_EVERY } else { RETRY_AFTER };
        let woken = tokio::time::timeout(wait, changes.recv()).await;
        if let Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) = woken {
            return;
        }
        let (Some(cache), Some(store)) = (cache.upgrade(), store.upgrade()) else {
            return;
        };
        ok = cache.reload(store.as_ref()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::branding_version::ChangeKind;

    fn cache() -> BrandingCache {
        let settings = crate::config::Settings::load_from(&BTreeMap::new()).unwrap();
        BrandingCache::from_config(&settings.products)
    }

    fn named(previous: &BrandingVersion, name: &str) -> BrandingVersion {
        let mut look = previous.look.clone();
        look.branding.company_name = Some(name.into());
        previous.next(look, "adam", 1, ChangeKind::Edit).unwrap()
    }

    fn name_of(cache: &BrandingCache, product: &ProductName) -> Option<String> {
        cache.look(product).unwrap().branding.company_name
    }

    #[test]
    fn saved_versions_replace_the_configuration_and_a_stale_read_never_wins() {
        let cache = cache();
        let product = ProductName::parse("mx_employment").unwrap();
        assert_eq!(name_of(&cache, &product).as_deref(), Some("ACME"));
        let v1 = named(&cache.current(&product).unwrap(), "One");
        cache.replace(vec![v1.clone()]);
        assert_eq!(name_of(&cache, &product).as_deref(), Some("One"));
        // Saved here while a reload was reading the store: the older read does not undo it.
        let v2 = named(&v1, "Two");
        cache.saved_here(&v2);
        cache.replace(vec![v1]);
        assert_eq!(name_of(&cache, &product).as_deref(), Some("Two"));
        // A store emptied by hand falls back to the configuration.
        cache.replace(Vec::new());
        assert_eq!(name_of(&cache, &product).as_deref(), Some("ACME"));
    }

    #[test]
    fn products_not_configured_are_ignored() {
        let cache = cache();
        let gone = ProductName::parse("retired_product").unwrap();
        let v1 = named(
            &BrandingVersion::from_config(gone.clone(), WidgetLook::default()),
            "Old",
        );
        cache.replace(vec![v1]);
        assert!(cache.look(&gone).is_none());
    }
}
