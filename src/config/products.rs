//! Per-country product presets (`[products.NAME]`, SPEC §3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::product_values::{ConsentPermission, CredentialsStorage, Days, Scopes};
use super::ConfigError;
use crate::domain::branding::{Branding, HttpsUrl};
use crate::domain::country::{Country, Resource};
use crate::domain::ids::{AccessMode, Code};
use crate::domain::theme::Theme;

/// Longest OFDA `purpose` Belvo accepts.
pub const MAX_PURPOSE: usize = 600;

/// Widget URL parameters a product may set (the OFDA guide's startup configuration).
const WIDGET_PARAMS: &[&str] = &[
    "locale",
    "mode",
    "integration_type",
    "institution_types",
    "country_codes",
    "resources",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSettings {
    pub country: Country,
    /// Resources Belvo fetches asynchronously after the link is made.
    pub fetch_resources: Vec<Resource>,
    /// Comma-separated scopes, sent as Belvo's guides show them.
    pub scopes: Scopes,
    /// How long Belvo keeps the link's data (`365d`).
    pub stale_in: Days,
    /// Default link type; apps may choose per session.
    pub access_mode: AccessMode,
    /// `credentials_storage` for single links (recurrent links always send `store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_storage: Option<CredentialsStorage>,
    /// Institutions shown in production; empty means all.
    pub institutions: Vec<Code>,
    /// Institutions shown in sandbox and embedded; absent means `institutions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_institutions: Option<Vec<Code>>,
    /// Extra widget URL parameters (`locale`, `mode`, ...).
    pub widget_params: BTreeMap<String, String>,
    #[serde(default)]
    pub branding: Branding,
    /// `widget.theme`: `[{css_key = "--colorPrimary", value = "#0663F9"}, ...]`.
    #[serde(default, skip_serializing_if = "Theme::is_empty")]
    pub theme: Theme,
    /// Brazil open finance (OFDA) settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_finance: Option<OpenFinanceSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenFinanceSettings {
    /// `widget.openfinance_feature`.
    pub openfinance_feature: String,
    /// `widget.purpose`, at most 600 characters.
    pub purpose: Purpose,
    /// `widget.consent.terms_and_conditions_url`.
    pub terms_and_conditions_url: HttpsUrl,
    /// Consent permissions requested; apps may narrow them.
    pub permissions: Vec<ConsentPermission>,
}

/// The OFDA `widget.purpose` shown to the user: 1 to [`MAX_PURPOSE`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Purpose(String);

impl Purpose {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Purpose {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        if raw.is_empty() || raw.chars().count() > MAX_PURPOSE {
            return Err(format!("must be 1 to {MAX_PURPOSE} characters"));
        }
        Ok(Self(raw))
    }
}

impl From<Purpose> for String {
    fn from(purpose: Purpose) -> Self {
        purpose.0
    }
}

impl ProductSettings {
    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let err =
            |field: &str, problem: String| ConfigError::new(format!("{key}.{field}"), problem);
        if self.fetch_resources.is_empty() {
            return Err(err(
                "fetch_resources",
                "must list at least one resource".into(),
            ));
        }
        let open_finance = self.open_finance.is_some();
        for r in &self.fetch_resources {
            if !r.available_in(self.country, open_finance) {
                return Err(err(
                    "fetch_resources",
                    format!(
                        "{r} is not available in {} (Belvo's resource table)",
                        self.country
                    ),
                ));
            }
        }
        for (param, value) in &self.widget_params {
            if !WIDGET_PARAMS.contains(&param.as_str()) {
                return Err(err(
                    "widget_params",
                    format!("unknown widget parameter {param:?}"),
                ));
            }
            if value.is_empty() || value.len() > 200 {
                return Err(err(
                    "widget_params",
                    format!("{param} must be 1 to 200 characters"),
                ));
            }
        }
        if !self.widget_params.contains_key("locale") {
            return Err(err(
                "widget_params",
                "locale is required by the hosted widget".into(),
            ));
        }
        self.branding
            .validate()
            .map_err(|(field, problem)| err(&format!("branding.{field}"), problem))?;
        if let Some(of) = &self.open_finance {
            if self.country != Country::Brazil {
                return Err(err(
                    "open_finance",
                    "open finance (OFDA) is Brazil only".into(),
                ));
            }
            if of.permissions.is_empty() {
                return Err(err("open_finance.permissions", "must not be empty".into()));
            }
        }
        Ok(())
    }

    /// Institutions shown for an environment (sandbox lists differ from production).
    pub fn institutions_for(&self, sandbox: bool) -> &[Code] {
        match (&self.sandbox_institutions, sandbox) {
            (Some(list), true) => list,
            _ => &self.institutions,
        }
    }
}
