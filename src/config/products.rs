//! Per-country product presets (`[products.NAME]`, SPEC §3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::branding::{Branding, HttpsUrl};
use crate::domain::country::{Country, Resource};
use crate::domain::ids::{AccessMode, Code};
use crate::domain::theme::Theme;

/// Scopes Belvo knows for widget tokens.
pub const KNOWN_SCOPES: &[&str] = &[
    "read_institutions",
    "write_links",
    "read_consents",
    "write_consents",
    "write_consent_callback",
    "delete_consents",
];

/// Consent permissions of the OFDA widget.
pub const CONSENT_PERMISSIONS: &[&str] =
    &["REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS"];

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
    pub scopes: String,
    /// How long Belvo keeps the link's data (`365d`).
    pub stale_in: String,
    /// Default link type; apps may choose per session.
    pub access_mode: AccessMode,
    /// `credentials_storage` for single links (recurrent links always send `store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_storage: Option<String>,
    /// Institutions shown in production; empty means all.
    pub institutions: Vec<String>,
    /// Institutions shown in sandbox and embedded; absent means `institutions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_institutions: Option<Vec<String>>,
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
    pub purpose: String,
    /// `widget.consent.terms_and_conditions_url`.
    pub terms_and_conditions_url: HttpsUrl,
    /// Consent permissions requested; apps may narrow them.
    pub permissions: Vec<String>,
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
        for scope in self.scopes.split(',') {
            if !KNOWN_SCOPES.contains(&scope) {
                return Err(err("scopes", format!("unknown scope {scope:?}")));
            }
        }
        if !is_days(&self.stale_in) {
            return Err(err("stale_in", "must be a number of days like 365d".into()));
        }
        if let Some(storage) = &self.credentials_storage {
            if storage != "store" && storage != "nostore" && !is_days(storage) {
                return Err(err(
                    "credentials_storage",
                    "must be store, nostore or like 30d".into(),
                ));
            }
        }
        let institutions = self
            .institutions
            .iter()
            .chain(self.sandbox_institutions.iter().flatten());
        for inst in institutions {
            if Code::parse(inst).is_none() {
                return Err(err(
                    "institutions",
                    format!("{inst:?} is not an institution code"),
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
            if of.purpose.is_empty() || of.purpose.chars().count() > MAX_PURPOSE {
                return Err(err(
                    "open_finance.purpose",
                    format!("must be 1 to {MAX_PURPOSE} characters"),
                ));
            }
            if of.permissions.is_empty() {
                return Err(err("open_finance.permissions", "must not be empty".into()));
            }
            for p in &of.permissions {
                if !CONSENT_PERMISSIONS.contains(&p.as_str()) {
                    return Err(err(
                        "open_finance.permissions",
                        format!("unknown permission {p:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Institutions shown for an environment (sandbox lists differ from production).
    pub fn institutions_for(&self, sandbox: bool) -> &[String] {
        match (&self.sandbox_institutions, sandbox) {
            (Some(list), true) => list,
            _ => &self.institutions,
        }
    }
}

fn is_days(raw: &str) -> bool {
    raw.strip_suffix('d')
        .is_some_and(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
}
