//! Where the store lives: one Redis, a Redis Cluster, or memory; checked at load.

use serde::Deserialize;

use super::{ConfigError, StoreSettings};

impl StoreSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.redis_url.is_empty() && !self.cluster_urls.is_empty() {
            return Err(ConfigError::new(
                "store.cluster_urls",
                "set either store.redis_url (REDIS_URL) or store.cluster_urls (REDIS_CLUSTER_URLS), not both",
            ));
        }
        for url in &self.cluster_urls {
            let scheme = url::Url::parse(url).map(|u| u.scheme().to_owned());
            if !matches!(scheme.as_deref(), Ok("redis" | "rediss")) {
                return Err(ConfigError::new(
                    "store.cluster_urls",
                    format!("{} is not a redis:// URL", mask_password(url)),
                ));
            }
        }
        // Keys are `{prefix}:{sh:NN}:...`: a brace in the prefix would move the hash tag, and a
        // session's keys would no longer share a cluster slot.
        if self.key_prefix.is_empty() || self.key_prefix.contains(['{', '}']) {
            return Err(ConfigError::new(
                "store.key_prefix",
                "must be non-empty and without braces",
            ));
        }
        Ok(())
    }

    /// Where the store lives.
    pub fn backend(&self) -> StoreBackend<'_> {
        if !self.cluster_urls.is_empty() {
            StoreBackend::Cluster(&self.cluster_urls)
        } else if !self.redis_url.is_empty() {
            StoreBackend::Redis(&self.redis_url)
        } else {
            StoreBackend::Memory
        }
    }
}

/// Where the store lives: in this process, one Redis, or a Redis Cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend<'a> {
    Memory,
    Redis(&'a str),
    Cluster(&'a [String]),
}

impl StoreBackend<'_> {
    /// For logs: `in-memory`, `redis` or `redis-cluster`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory => "in-memory",
            Self::Redis(_) => "redis",
            Self::Cluster(_) => "redis-cluster",
        }
    }
}

/// A list from either a TOML array or a comma-separated string (environment variables).
pub(super) fn comma_separated<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        List(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::Text(text) => text.split(',').map(str::to_owned).collect(),
        Raw::List(list) => list,
    };
    Ok(items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `redis://user:secret@host` → `redis://user:***@host`; anything else unchanged.
pub fn mask_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
