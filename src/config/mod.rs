//! Typed configuration: embedded defaults (`config/default.toml`) → the file in `BFF_CONFIG` →
//! env shortcuts (`PORT`, `REDIS_URL`, ...) → `BFF__SECTION__KEY`. Validated once, at load.
//! Secrets come from the environment only (see [`secrets`]).

pub mod app_links;
pub mod institutions;
pub mod notify;
pub mod product_values;
pub mod products;
pub mod secrets;
pub mod staff;
mod store;
pub mod urls;

use std::collections::BTreeMap;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::ids::{Platform, ProductName};
pub use products::{OpenFinanceSettings, ProductSettings};
pub use secrets::Secrets;
use store::comma_separated;
pub use store::{mask_password, StoreBackend};

const DEFAULTS: &str = include_str!("../../config/default.toml");

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub belvo: BelvoSettings,
    pub app: AppSettings,
    pub app_jwt: AppJwtSettings,
    pub sessions: SessionSettings,
    /// How long links are kept (SPEC §11).
    pub links: LinkSettings,
    pub log: LogSettings,
    pub emulator: EmulatorSettings,
    pub webhooks: WebhookSettings,
    /// Per-user and per-process bounds: long-polls, Belvo token requests, API-flow usernames.
    pub limits: LimitSettings,
    /// Console sign-in: staff accounts, session lifetime, lockout.
    pub staff: staff::StaffSettings,
    /// Outbound events for the company's backend (SPEC §13).
    pub notify: notify::NotifySettings,
    /// Institution health: status-page components, the widget's sliding window (SPEC §14).
    pub institutions: institutions::InstitutionSettings,
    pub products: BTreeMap<ProductName, ProductSettings>,
    /// Loaded from the environment, never from files; never serialised.
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address.
    pub host: String,
    /// Listen port; 0 picks a free one (tests).
    pub port: u16,
    /// Base of the callback URLs given to Belvo; none (empty) means `http://{host}:{port}`.
    #[serde(
        default,
        deserialize_with = "urls::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_base_url: Option<Url>,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest JSON body accepted on the mobile API, in bytes.
    pub json_limit: usize,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still served, so load
    /// balancers stop sending new ones before the listener closes.
    #[serde(with = "humantime_serde")]
    pub shutdown_delay: Duration,
    /// Then, how long in-flight requests (long-polls included) may take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Proxies (load balancers) whose `X-Forwarded-For` is believed for the console's sign-in
    /// limits and audit log. Webhooks have their own list (`webhooks.trusted_proxies`).
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Redis URL; empty keeps everything in memory.
    pub redis_url: String,
    /// Redis Cluster nodes (some or all of them), instead of `redis_url`. A list in files, comma
    /// separated in `REDIS_CLUSTER_URLS`.
    #[serde(default, deserialize_with = "comma_separated")]
    pub cluster_urls: Vec<String>,
    /// Prefix of every Redis key.
    pub key_prefix: String,
    /// Longest wait for one Redis command.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Replicas that must acknowledge a terminal callback or a webhook (Redis `WAIT`) before
    /// it is answered with success; 0 waits for none.
    pub ack_replicas: u32,
    /// Longest wait for those acknowledgements; fewer in time answers 503.
    #[serde(with = "humantime_serde")]
    pub ack_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BelvoEnvironment {
    Sandbox,
    Production,
    Embedded,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BelvoSettings {
    /// sandbox, production or embedded (the built-in emulator).
    pub environment: BelvoEnvironment,
    /// Overrides Belvo's API base URL; none (empty) means the environment's.
    #[serde(
        default,
        deserialize_with = "urls::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_url: Option<Url>,
    /// Overrides the hosted widget URL; none (empty) means the environment's.
    #[serde(
        default,
        deserialize_with = "urls::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub widget_url: Option<Url>,
    /// My Belvo Portal, where Brazilian users manage and renew their open-finance consents;
    /// none (empty) means Belvo's (`https://meuportal.belvo.com/`), embedded the emulator's.
    #[serde(
        default,
        deserialize_with = "urls::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub portal_url: Option<Url>,
    /// Longest wait for one Belvo API call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Idle keep-alive connections to Belvo kept open for reuse: at least the calls in flight
    /// at a busy moment, so a burst does not open (and later close) a connection per call.
    pub max_idle_connections: usize,
    /// How long an idle connection to Belvo is kept for reuse.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    /// Where callbacks send the app back, per platform.
    pub deeplink_base: BTreeMap<Platform, urls::DeeplinkBase>,
    /// iOS apps that may open callback URLs as universal links.
    #[serde(default)]
    pub ios: app_links::IosAppLinks,
    /// The Android app that may open callback URLs as verified app links.
    #[serde(default)]
    pub android: app_links::AndroidAppLinks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppJwtSettings {
    /// HS256 (secret from BFF_APP_JWT_SECRET), RS256 or ES256 (public_key_pem or jwks_url).
    pub algorithm: JwtAlgorithm,
    /// PEM public key for RS256/ES256 (or use `jwks_url`, not both).
    pub public_key_pem: String,
    /// For RS256/ES256: the identity provider's JWKS (`https://.../.well-known/jwks.json`);
    /// tokens name their key by `kid`. Fetched at start-up and kept fresh in the background.
    #[serde(
        default,
        deserialize_with = "urls::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub jwks_url: Option<Url>,
    /// Required `iss`, when set.
    pub issuer: String,
    /// Required `aud`, when set.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// A session still pending after this is expired.
    #[serde(with = "humantime_serde")]
    pub pending_timeout: Duration,
    /// Longest `?wait=` long-poll.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// How long a session, its timeline and its owner's index are kept after it finishes or
    /// expires (so support still sees abandoned attempts).
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// How long a link is kept after its latest activity (a success naming it, a webhook, a
    /// claim), unless it is deleted first.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Every link's record at Belvo is re-read at least this often, spread evenly.
    #[serde(with = "humantime_serde")]
    pub check_every: Duration,
    /// The most background link checks per second, all replicas together.
    pub check_rate: u32,
    /// Whether this replica runs the background checks and finishes interrupted verifications.
    pub background_checks: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Most `?wait=` long-polls waiting at once in this process; past it a long-poll answers
    /// at once with the current state.
    pub max_waiting: usize,
    /// Most long-polls one user may have waiting at once (same answer past it).
    pub max_waiting_per_user: usize,
    /// Belvo widget-token requests one user may cause per minute (sessions, renewals,
    /// reconnects, consent portal); past it, 429 with `retry_after`.
    pub token_requests_per_minute: u64,
    /// The same per day.
    pub token_requests_per_day: u64,
    /// Distinct usernames (CURP, CPF, cédula) one user may try in `POST /v1/links` per day.
    pub usernames_per_day: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Source addresses allowed to send webhooks; empty allows any (the bearer token still
    /// applies). Belvo's: 3.130.254.46, 18.220.61.186, 18.223.45.212.
    pub allowed_ips: Vec<std::net::IpAddr>,
    /// Proxies whose `X-Forwarded-For` is believed when checking `allowed_ips`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Largest webhook body, in bytes.
    pub body_limit: usize,
    /// With `Authorization: Basic` (SPEC §13), the user name Belvo must send; none: any user
    /// name (the password, `BFF_WEBHOOK_TOKEN`, is always checked).
    #[serde(default)]
    pub basic_username: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorSettings {
    /// Where the emulator sends webhooks; none (empty) means this server's `/webhooks/belvo`
    /// when embedded, and none when standalone.
    #[serde(
        default,
        deserialize_with = "urls::optional_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_url: Option<Url>,
    /// Wait after a link is created before its webhooks are sent.
    #[serde(with = "humantime_serde")]
    pub webhook_delay: Duration,
    /// Tries per webhook before giving up (with doubling backoff).
    pub webhook_attempts: u32,
    /// Longest wait for the receiver's answer.
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Duration,
    /// How long the widget access tokens it issues last (Belvo's: 10 minutes).
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// Added before every API answer (`/api/...`), as Belvo's own takes hundreds of
    /// milliseconds; 0 answers at once.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
}

/// How the emulator reaches the BFF's webhook endpoint.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub token: secrecy::SecretString,
    pub delay: Duration,
    pub attempts: u32,
    pub timeout: Duration,
}

impl EmulatorSettings {
    pub fn webhook_target(&self, url: &str, settings: &Settings) -> WebhookTarget {
        WebhookTarget {
            url: url.to_owned(),
            token: settings.secrets.webhook_token.clone(),
            delay: self.webhook_delay,
            attempts: self.webhook_attempts.max(1),
            timeout: self.webhook_timeout,
        }
    }
}

/// Env shortcuts from SPEC §2, mapped onto their keys.
const SHORTCUTS: &[(&str, &str)] = &[
    ("PORT", "server.port"),
    ("PUBLIC_BASE_URL", "server.public_base_url"),
    ("REDIS_URL", "store.redis_url"),
    ("REDIS_CLUSTER_URLS", "store.cluster_urls"),
    ("BELVO_ENV", "belvo.environment"),
];

impl Settings {
    /// Loads from the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_from(&env)
    }

    /// Loads with `env` standing for the process environment (tests pass their own).
    pub fn load_from(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(path) = env.get("BFF_CONFIG").filter(|p| !p.is_empty()) {
            if !std::path::Path::new(path).is_file() {
                return Err(ConfigError::new("BFF_CONFIG", format!("no file at {path}")));
            }
            figment = figment.merge(Toml::file(path));
        }
        for (var, key) in SHORTCUTS {
            if let Some(value) = env.get(*var) {
                figment = figment.merge((*key, value.as_str()));
            }
        }
        for (var, value) in env {
            if let Some(rest) = var.strip_prefix("BFF__") {
                let key = rest.to_ascii_lowercase().replace("__", ".");
                figment = figment.merge((key, value.as_str()));
            }
        }
        // Lossy: env values are strings; "9000" must still fill a port.
        let mut settings: Settings = figment.extract_lossy().map_err(|e| {
            let key = e.path.join(".");
            ConfigError::new(
                if key.is_empty() { "config".into() } else { key },
                e.kind.to_string(),
            )
        })?;
        settings.secrets = Secrets::from_env(env, &settings)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.server.public_base_url {
            let https_required = self.belvo.environment == BelvoEnvironment::Production;
            if https_required && url.scheme() != "https" {
                return Err(ConfigError::new(
                    "server.public_base_url",
                    "must be https:// in production (Belvo redirects users to it)",
                ));
            }
        }
        self.app.android.validate()?;
        self.store.validate()?;
        if self.products.is_empty() {
            return Err(ConfigError::new(
                "products",
                "at least one product is needed",
            ));
        }
        for (name, product) in &self.products {
            product.validate(&format!("products.{name}"))?;
        }
        self.validate_app_jwt()?;
        self.staff.validate()?;
        self.notify.validate(self.belvo.environment)?;
        self.institutions.validate()?;
        if self.sessions.max_wait > Duration::from_secs(30) {
            return Err(ConfigError::new("sessions.max_wait", "must be at most 30s"));
        }
        if self.sessions.retention < Duration::from_secs(60) {
            return Err(ConfigError::new(
                "sessions.retention",
                "must be at least 1m",
            ));
        }
        if self.links.retention < self.sessions.retention {
            return Err(ConfigError::new(
                "links.retention",
                "must be at least sessions.retention (a link outlives the sessions that made it)",
            ));
        }
        if self.links.check_every < Duration::from_secs(60) {
            return Err(ConfigError::new("links.check_every", "must be at least 1m"));
        }
        if !(1..=10_000).contains(&self.links.check_rate) {
            return Err(ConfigError::new(
                "links.check_rate",
                "must be from 1 to 10000 checks per second",
            ));
        }
        Ok(())
    }

    /// RS256/ES256 take their key from exactly one of `public_key_pem` and `jwks_url`.
    fn validate_app_jwt(&self) -> Result<(), ConfigError> {
        let jwt = &self.app_jwt;
        let pem = !jwt.public_key_pem.is_empty();
        match (jwt.algorithm, pem, &jwt.jwks_url) {
            (JwtAlgorithm::HS256, _, Some(_)) => Err(ConfigError::new(
                "app_jwt.jwks_url",
                "is for RS256/ES256: set app_jwt.algorithm, or leave jwks_url empty for HS256",
            )),
            (JwtAlgorithm::HS256, _, None) | (_, true, None) => Ok(()),
            (_, false, None) => Err(ConfigError::new(
                "app_jwt.public_key_pem",
                "is required for RS256/ES256 (or set app_jwt.jwks_url instead)",
            )),
            (_, true, Some(_)) => Err(ConfigError::new(
                "app_jwt.jwks_url",
                "and app_jwt.public_key_pem are both set: keep only one",
            )),
            (_, false, Some(url)) => validate_jwks_url(url, self.belvo.environment),
        }
    }

    /// Belvo's API base URL for the configured environment (embedded: set at start-up).
    pub fn belvo_base_url(&self) -> Option<String> {
        if let Some(url) = &self.belvo.base_url {
            return Some(url.as_str().trim_end_matches('/').to_owned());
        }
        match self.belvo.environment {
            BelvoEnvironment::Sandbox => Some("https://sandbox.belvo.com".into()),
            BelvoEnvironment::Production => Some("https://api.belvo.com".into()),
            BelvoEnvironment::Embedded => None,
        }
    }

    /// The hosted widget's URL (embedded: set at start-up).
    pub fn widget_url(&self) -> Option<String> {
        if let Some(url) = &self.belvo.widget_url {
            return Some(url.to_string());
        }
        match self.belvo.environment {
            BelvoEnvironment::Embedded => None,
            _ => Some("https://widget.belvo.io/".into()),
        }
    }

    /// My Belvo Portal's URL (embedded: the emulator's, set at start-up).
    pub fn portal_url(&self) -> Option<String> {
        if let Some(url) = &self.belvo.portal_url {
            return Some(url.to_string());
        }
        match self.belvo.environment {
            BelvoEnvironment::Embedded => None,
            _ => Some("https://meuportal.belvo.com/".into()),
        }
    }

    /// The configuration as TOML with every secret shown only as set/unset, and Redis passwords
    /// masked.
    pub fn redacted(&self) -> String {
        let mut shown = self.clone();
        shown.store.redis_url = mask_password(&shown.store.redis_url);
        for url in &mut shown.store.cluster_urls {
            *url = mask_password(url);
        }
        let body = toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# unprintable: {e}"));
        format!("{body}\n[secrets]\n{}", self.secrets.describe())
    }
}

fn validate_jwks_url(url: &Url, environment: BelvoEnvironment) -> Result<(), ConfigError> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            "app_jwt.jwks_url",
            "must be an http:// or https:// URL",
        ));
    }
    // Whoever can change the keys in transit can sign any user's token.
    if environment == BelvoEnvironment::Production && url.scheme() != "https" {
        return Err(ConfigError::new(
            "app_jwt.jwks_url",
            "must be https:// in production",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
