//! Where a product's branding comes from. Today: configuration. The admin editor swaps in a
//! Redis-backed provider behind the same trait.

use std::collections::BTreeMap;

use crate::config::ProductSettings;
use crate::domain::branding::Branding;
use crate::domain::ids::ProductName;

pub trait BrandingProvider: Send + Sync {
    fn branding(&self, product: &ProductName) -> Option<Branding>;
}

/// Branding as written in `[products.NAME.branding]`.
pub struct ConfigBranding(BTreeMap<ProductName, Branding>);

impl ConfigBranding {
    pub fn new(products: &BTreeMap<ProductName, ProductSettings>) -> Self {
        Self(
            products
                .iter()
                .map(|(name, p)| (name.clone(), p.branding.clone()))
                .collect(),
        )
    }
}

impl BrandingProvider for ConfigBranding {
    fn branding(&self, product: &ProductName) -> Option<Branding> {
        self.0.get(product).cloned()
    }
}
