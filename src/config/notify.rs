//! `[notify]`: where outbound events go (SPEC §13). No endpoint configured: the feature is off,
//! nothing is written to the outbox, and no secret is needed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BelvoEnvironment, ConfigError};
use crate::domain::event::EventPattern;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// The company's receivers; none: no events.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Whether `data.sub` (the app's own user id) is sent; false keeps it off the session too.
    pub include_sub: bool,
    /// An event not delivered after this long is dead (kept, no longer retried).
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Longest wait for one receiver's answer. A replica's entry is only taken over by another
    /// after this (plus a second) without news, so retries come at least this far apart.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The first retry's delay; each next one doubles it (with jitter), up to `max_backoff`.
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How often a replica looks for retries due and for events other replicas wrote (its own
    /// are sent at once).
    #[serde(with = "humantime_serde")]
    pub poll: Duration,
    /// Whether this replica delivers (false: it only writes events; others deliver them).
    pub deliver: bool,
    /// Embedded mode only: also send every event to the demo's own receiver, `/demo/events`.
    pub demo_receiver: bool,
}

/// One receiver: its URL, the events it wants, and the variable holding its `whsec_` secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: url::Url,
    /// Patterns: `session.succeeded`, `session.*`, `*`.
    pub events: Vec<EventPattern>,
    /// The environment variable holding the endpoint's secret (`whsec_` + base64).
    pub secret_env: String,
}

impl NotifySettings {
    /// Whether any event is sent at all (and so written to the outbox).
    pub fn enabled(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// Whether sessions keep the app's `sub` for their events.
    pub fn keeps_sub(&self) -> bool {
        self.enabled() && self.include_sub
    }

    /// How long a replica holding an entry has before another may take it over.
    pub fn claim_idle(&self) -> Duration {
        self.timeout + Duration::from_secs(1)
    }

    pub(super) fn validate(&self, environment: BelvoEnvironment) -> Result<(), ConfigError> {
        let mut urls = std::collections::BTreeSet::new();
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let key = format!("notify.endpoints[{i}]");
            let url = &endpoint.url;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ConfigError::new(
                    format!("{key}.url"),
                    format!("{url} must be an http:// or https:// URL"),
                ));
            }
            if environment == BelvoEnvironment::Production && url.scheme() != "https" {
                return Err(ConfigError::new(
                    format!("{key}.url"),
                    format!("{url} must be https:// in production"),
                ));
            }
            if !urls.insert(url.as_str()) {
                return Err(ConfigError::new(
                    format!("{key}.url"),
                    format!("{url} is configured twice: one endpoint per URL"),
                ));
            }
            if endpoint.events.is_empty() {
                return Err(ConfigError::new(
                    format!("{key}.events"),
                    "names no event: give patterns such as \"session.*\"",
                ));
            }
            if endpoint.secret_env.is_empty() {
                return Err(ConfigError::new(
                    format!("{key}.secret_env"),
                    "must name the environment variable holding the endpoint's whsec_ secret",
                ));
            }
        }
        let positive = [
            ("notify.max_age", self.max_age),
            ("notify.timeout", self.timeout),
            ("notify.backoff", self.backoff),
            ("notify.poll", self.poll),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be more than 0"));
            }
        }
        if self.max_backoff < self.backoff {
            return Err(ConfigError::new(
                "notify.max_backoff",
                "must be at least notify.backoff",
            ));
        }
        Ok(())
    }
}
