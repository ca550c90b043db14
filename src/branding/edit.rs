//! Saving and rolling back a product's look: each change becomes the next version (with its
//! author, time and diff) only if nobody saved another one since the editor loaded the page.

use crate::domain::branding_version::{BrandingVersion, ChangeKind, SaveOutcome, WidgetLook};
use crate::domain::ids::ProductName;
use crate::domain::session::now_millis;
use crate::state::AppState;
use crate::store::{StoreError, MAX_BRANDING_VERSIONS};

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

/// The version in force, read from the store (the cache may be a moment behind another replica).
async fn latest(state: &AppState, product: &ProductName) -> Result<BrandingVersion, EditError> {
    let config = state
        .branding
        .config_version(product)
        .ok_or_else(|| EditError::UnknownProduct(product.clone()))?;
    let saved = state.store.branding_history(product, 1).await?;
    Ok(saved.into_iter().next().unwrap_or_else(|| config.clone()))
}

/// Saves `look` as the next version of `product`. With `expected`, refuses when the version in
/// force is not the one the editor saw.
#[tracing::instrument(skip(state, look), fields(%product))]
pub async fn save(
    state: &AppState,
    product: &ProductName,
    look: WidgetLook,
    author: &str,
    expected: Option<u64>,
) -> Result<BrandingVersion, EditError> {
    write(state, product, look, author, expected, ChangeKind::Edit).await
}

/// Makes the look of version `to` (0: the configuration's) the next version.
#[tracing::instrument(skip(state), fields(%product))]
pub async fn rollback(
    state: &AppState,
    product: &ProductName,
    to: u64,
    author: &str,
    expected: Option<u64>,
) -> Result<BrandingVersion, EditError> {
    let target = history(state, product)
        .await?
        .into_iter()
        .find(|v| v.version == to)
        .ok_or(EditError::UnknownVersion(to))?;
    let change = ChangeKind::Rollback { to };
    write(state, product, target.look, author, expected, change).await
}

async fn write(
    state: &AppState,
    product: &ProductName,
    look: WidgetLook,
    author: &str,
    expected: Option<u64>,
    change: ChangeKind,
) -> Result<BrandingVersion, EditError> {
    let current = latest(state, product).await?;
    if expected.is_some_and(|e| e != current.version) {
        return Err(EditError::Conflict {
            current: current.version,
        });
    }
    let next = current
        .next(look, author, now_millis(), change)
        .ok_or(EditError::Unchanged)?;
    match state.store.save_branding(&next).await? {
        SaveOutcome::Saved => {
            state.branding.saved_here(&next);
            Ok(next)
        }
        SaveOutcome::Conflict { current } => Err(EditError::Conflict { current }),
    }
}

/// Every kept version of `product`, newest first, ending with the configuration's (version 0).
pub async fn history(
    state: &AppState,
    product: &ProductName,
) -> Result<Vec<BrandingVersion>, EditError> {
    let config = state
        .branding
        .config_version(product)
        .ok_or_else(|| EditError::UnknownProduct(product.clone()))?
        .clone();
    let mut versions = state
        .store
        .branding_history(product, MAX_BRANDING_VERSIONS)
        .await?;
    versions.push(config);
    Ok(versions)
}
