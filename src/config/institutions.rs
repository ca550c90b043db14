//! `[institutions]`: institution health (SPEC §14). The status-page webhook is off unless
//! `BFF_STATUS_WEBHOOK_TOKEN` is set (see [`super::secrets`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionSettings {
    /// Status-page component name → institution code; a component not listed is taken to be
    /// named by its institution code.
    #[serde(default)]
    pub status_components: BTreeMap<String, String>,
    /// How far back the `institution_down` exits and `institution_disabled` warnings the
    /// widget reports are counted.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// That many of them inside the window make the institution `degraded`.
    pub degraded_threshold: u32,
    /// How long display names from Belvo's institutions API are kept before being read again
    /// (in the background; while Belvo fails, the last names known stay).
    #[serde(with = "humantime_serde")]
    pub names_ttl: Duration,
    /// How often each replica reads every institution's status into the snapshot that
    /// `POST /v1/widget-sessions` answers from (so session creation never waits for it).
    #[serde(with = "humantime_serde")]
    pub status_refresh: Duration,
}

impl InstitutionSettings {
    /// The institution a status-page component stands for.
    pub fn institution_of<'a>(&'a self, component: &'a str) -> &'a str {
        self.status_components
            .get(component)
            .map(String::as_str)
            .unwrap_or(component)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.degraded_threshold == 0 {
            return Err(ConfigError::new(
                "institutions.degraded_threshold",
                "must be at least 1",
            ));
        }
        if self.window.is_zero() {
            return Err(ConfigError::new("institutions.window", "must be positive"));
        }
        if self.status_refresh.is_zero() || self.names_ttl.is_zero() {
            return Err(ConfigError::new(
                "institutions.status_refresh",
                "status_refresh and names_ttl must be positive",
            ));
        }
        for (component, code) in &self.status_components {
            if crate::domain::ids::Code::parse(code).is_err() {
                return Err(ConfigError::new(
                    format!("institutions.status_components.{component}"),
                    format!("{code:?} is not an institution code ([A-Za-z0-9_-], at most 64)"),
                ));
            }
        }
        Ok(())
    }
}
