//! Saving and rolling back a product's look: each change becomes the next version (with its
//! author, time and diff) only if nobody saved another one since the editor loaded the page.

use crate::domain::branding_version::{BrandingVersion, ChangeKind, SaveOutcome, WidgetLook};
use crate::domain::ids::ProductName;
use crate::domain::session::now_millis;
use crate::store::{DynStore, StoreError, MAX_BRANDING_VERSIONS};

use super::BrandingCache;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no product named {0}")]
    UnknownProduct(ProductName),
    #[error("version {0} of this product's branding does not exist")]
    UnknownVersion(u64),
    #[error("someone saved version {current} since; review it and save again")]
    Conflict { current: u64 },
    #[error("nothing changed")]
    Unchanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves, rolls back and lists a product's looks: the store, and this replica's cache to update.
pub struct Editor<'a> {
    pub store: &'a DynStore,
    pub cache: &'a BrandingCache,
}

impl Editor<'_> {
    /// The version in force, read from the store (the cache may be a moment behind another replica).
    async fn latest(&self, product: &ProductName) -> Result<BrandingVersion, EditError> {
        let config = self
            .cache
            .config_version(product)
            .ok_or_else(|| EditError::UnknownProduct(product.clone()))?;
        let saved = self.store.branding_history(product, 1).await?;
        Ok(saved.into_iter().next().unwrap_or_else(|| config.clone()))
    }

    /// Saves `look` as the next version of `product`. With `expected`, refuses when the version
    /// in force is not the one the editor saw.
    #[tracing::instrument(skip(self, look), fields(%product))]
    pub async fn save(
        &self,
        product: &ProductName,
        look: WidgetLook,
        author: &str,
        expected: Option<u64>,
    ) -> Result<BrandingVersion, EditError> {
        self.write(product, look, author, expected, ChangeKind::Edit)
            .await
    }

    /// Makes the look of version `to` (0: the configuration's) the next version.
    #[tracing::instrument(skip(self), fields(%product))]
    pub async fn rollback(
        &self,
        product: &ProductName,
        to: u64,
        author: &str,
        expected: Option<u64>,
    ) -> Result<BrandingVersion, EditError> {
        let target = self
            .history(product)
            .await?
            .into_iter()
            .find(|v| v.version == to)
            .ok_or(EditError::UnknownVersion(to))?;
        let change = ChangeKind::Rollback { to };
        self.write(product, target.look, author, expected, change)
            .await
    }

    async fn write(
        &self,
        product: &ProductName,
        look: WidgetLook,
        author: &str,
        expected: Option<u64>,
        change: ChangeKind,
    ) -> Result<BrandingVersion, EditError> {
        let current = self.latest(product).await?;
        if expected.is_some_and(|e| e != current.version) {
            return Err(EditError::Conflict {
                current: current.version,
            });
        }
        let next = current
            .next(look, author, now_millis(), change)
            .ok_or(EditError::Unchanged)?;
        match self.store.save_branding(&next).await? {
            SaveOutcome::Saved => {
                self.cache.saved_here(&next);
                Ok(next)
            }
            SaveOutcome::Conflict { current } => Err(EditError::Conflict { current }),
        }
    }

    /// Every kept version of `product`, newest first, ending with the configuration's (version 0).
    pub async fn history(&self, product: &ProductName) -> Result<Vec<BrandingVersion>, EditError> {
        let config = self
            .cache
            .config_version(product)
            .ok_or_else(|| EditError::UnknownProduct(product.clone()))?
            .clone();
        let mut versions = self
            .store
            .branding_history(product, MAX_BRANDING_VERSIONS)
            .await?;
        versions.push(config);
        Ok(versions)
    }
}
