//! The one way to find a configured product from the name a caller sent: a name that does not
//! parse and a name nobody configured are the same unknown product.

use std::collections::BTreeMap;

use crate::config::ProductSettings;
use crate::domain::ids::ProductName;
use crate::error::{ApiError, ErrorCode};

/// The configured products, as in `[products.NAME]`.
pub type Products = BTreeMap<ProductName, ProductSettings>;

/// The configured product named `raw`, if any.
pub fn find<'a>(
    products: &'a Products,
    raw: &str,
) -> Option<(&'a ProductName, &'a ProductSettings)> {
    let name = ProductName::parse(raw).ok()?;
    products.get_key_value(&name)
}

/// [`find`], or `unknown_product` listing the configured names.
pub fn require<'a>(
    products: &'a Products,
    raw: &str,
) -> Result<(&'a ProductName, &'a ProductSettings), ApiError> {
    find(products, raw).ok_or_else(|| {
        let known: Vec<_> = products.keys().map(|k| k.as_str()).collect();
        ApiError::new(
            ErrorCode::UnknownProduct,
            format!("product must be one of: {}", known.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products() -> Products {
        crate::config::Settings::load_from(&BTreeMap::new())
            .unwrap()
            .products
    }

    #[test]
    fn a_configured_name_is_found_and_anything_else_is_unknown() {
        let products = products();
        let (name, _) = find(&products, "mx_employment").expect("configured");
        assert_eq!(name.as_str(), "mx_employment");
        assert!(
            find(&products, "retired_product").is_none(),
            "parses, not configured"
        );
        assert!(find(&products, "MX_EMPLOYMENT").is_none(), "does not parse");
        let error = require(&products, "nope").unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("mx_employment"), "{error}");
    }
}
