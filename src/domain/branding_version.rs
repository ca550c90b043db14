//! A product's widget look (branding and theme) as edited in the admin pages: every saved change
//! is a numbered version that says who made it, when, and what it changed, so it can be rolled back.

use serde::{Deserialize, Serialize};

use super::branding::Branding;
use super::ids::ProductName;
use super::session::Millis;
use super::theme::Theme;

/// What the widget is given for a product: `widget.branding` and `widget.theme`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetLook {
    pub branding: Branding,
    #[serde(default)]
    pub theme: Theme,
}

/// The fields an editor sees, in order, with each value as shown (and diffed).
pub const FIELDS: &[&str] = &[
    "company_name",
    "company_icon",
    "company_logo",
    "company_terms_url",
    "overlay_background_color",
    "social_proof",
    "theme",
];

impl WidgetLook {
    /// The value of one of [`FIELDS`] as text; `None` when unset.
    pub fn field(&self, name: &str) -> Option<String> {
        let b = &self.branding;
        match name {
            "company_name" => b.company_name.clone(),
            "company_icon" => b.company_icon.as_ref().map(|u| u.to_string()),
            "company_logo" => b.company_logo.as_ref().map(|u| u.to_string()),
            "company_terms_url" => b.company_terms_url.as_ref().map(|u| u.to_string()),
            "overlay_background_color" => b
                .overlay_background_color
                .as_ref()
                .map(|c| String::from(c.clone())),
            "social_proof" => b
                .social_proof
                .map(|s| if s { "shown" } else { "hidden" }.into()),
            "theme" => (!self.theme.is_empty()).then(|| self.theme.to_string()),
            _ => None,
        }
    }

    /// Field by field, what changes from `self` to `next`.
    pub fn diff(&self, next: &WidgetLook) -> Vec<FieldChange> {
        FIELDS
            .iter()
            .filter_map(|&field| {
                let (before, after) = (self.field(field), next.field(field));
                (before != after).then(|| FieldChange {
                    field: field.to_owned(),
                    before,
                    after,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Why a version exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    Edit,
    /// Restores the look of an earlier version (0: the configuration's).
    Rollback {
        to: u64,
    },
}

/// One saved look of a product. Version 0 is the configuration's and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandingVersion {
    pub product: ProductName,
    pub version: u64,
    pub look: WidgetLook,
    /// The staff member who saved it (account name or token subject).
    pub author: String,
    pub at: Millis,
    pub change: ChangeKind,
    /// What it changed from the version before.
    pub diff: Vec<FieldChange>,
}

impl BrandingVersion {
    /// The configuration's look, as version 0.
    pub fn from_config(product: ProductName, look: WidgetLook) -> Self {
        Self {
            product,
            version: 0,
            look,
            author: "configuration".into(),
            at: 0,
            change: ChangeKind::Edit,
            diff: Vec::new(),
        }
    }

    /// The version after `self` that shows `look`, or `None` when nothing would change.
    pub fn next(
        &self,
        look: WidgetLook,
        author: &str,
        at: Millis,
        change: ChangeKind,
    ) -> Option<Self> {
        let diff = self.look.diff(&look);
        (!diff.is_empty()).then(|| Self {
            product: self.product.clone(),
            version: self.version + 1,
            look,
            author: author.to_owned(),
            at,
            change,
            diff,
        })
    }
}

/// What saving a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// Someone saved another version first; the current one is `current`.
    Conflict {
        current: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::branding::{HexColor, HttpsUrl};

    fn product() -> ProductName {
        ProductName::parse("mx_employment").unwrap()
    }

    #[test]
    fn diff_lists_changed_fields_only() {
        let before = WidgetLook {
            branding: Branding {
                company_name: Some("ACME".into()),
                ..Default::default()
            },
            theme: Theme::default(),
        };
        let mut after = before.clone();
        after.branding.company_logo =
            Some(HttpsUrl::parse("https://cdn.acme.mx/logo.svg").unwrap());
        after.branding.overlay_background_color = Some(HexColor::parse("#112233").unwrap());
        let diff = before.diff(&after);
        let fields: Vec<_> = diff.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["company_logo", "overlay_background_color"]);
        assert_eq!(diff[1].before, None);
        assert_eq!(diff[1].after.as_deref(), Some("#112233"));
    }

    #[test]
    fn next_numbers_versions_and_skips_no_ops() {
        let v0 = BrandingVersion::from_config(product(), WidgetLook::default());
        assert!(v0
            .next(WidgetLook::default(), "adam", 5, ChangeKind::Edit)
            .is_none());
        let mut look = WidgetLook::default();
        look.branding.social_proof = Some(false);
        let v1 = v0.next(look, "adam", 5, ChangeKind::Edit).unwrap();
        assert_eq!(v1.version, 1);
        assert_eq!(v1.diff[0].after.as_deref(), Some("hidden"));
        let v2 = v1
            .next(
                WidgetLook::default(),
                "adam",
                6,
                ChangeKind::Rollback { to: 0 },
            )
            .unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.change, ChangeKind::Rollback { to: 0 });
    }
}
