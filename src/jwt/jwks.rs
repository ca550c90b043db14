//! App JWT keys from the identity provider's JWKS (`app_jwt.jwks_url`).
//!
//! The keys live in memory, so checking a token is a lookup by `kid` (no I/O). The set is
//! fetched at start-up, again every [`REFRESH_EVERY`] in the background (sooner, with backoff,
//! while fetches fail), and once more when a token names a `kid` the set does not have (the
//! provider rotated its keys) — at most once every [`REFETCH_COOLDOWN`], so tokens with made-up
//! kids cannot make this server hammer the provider.
//!
//! Only the URL's host and kids are logged, never keys or tokens.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::config::ConfigError;

/// How often the set is fetched while fetches succeed.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10 * 60);
/// Least time between two fetches caused by unknown kids.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// First retry after a failed background fetch; doubles up to [`RETRY_AT_MOST`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_AT_MOST: Duration = Duration::from_secs(60);
/// Longest wait for one fetch (connecting included).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS document read.
const MAX_BODY: usize = 256 * 1024;
/// Longest `kid` looked up (longer ones are refused without a fetch).
pub const MAX_KID: usize = 128;

/// The keys of the last good fetch, by kid.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, DecodingKey>,
    /// Whether any fetch has succeeded yet.
    loaded: bool,
    /// Counts the sets installed: a token verified against an earlier set is checked again.
    generation: u64,
}

/// What a token's kid finds in the cached set.
pub enum Lookup<R> {
    Found(R),
    /// The set has no such kid.
    Unknown,
    /// No fetch has succeeded yet.
    NotLoaded,
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("request failed: {0}")]
    Http(reqwest::Error),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("the document is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the document is not a JWKS ({{\"keys\": [...]}}): {0}")]
    NotJwks(serde_json::Error),
    #[error("no usable {0:?} key with a kid in the set")]
    NoUsableKey(Algorithm),
}

pub struct Jwks {
    url: String,
    /// The URL's host, the only part of it logged.
    host: String,
    algorithm: Algorithm,
    client: reqwest::Client,
    keys: ArcSwap<KeySet>,
    /// When the last fetch for an unknown kid started; held during that fetch, so concurrent
    /// requests with the same new kid wait for it instead of fetching again.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl Jwks {
    /// A key source for `url` (already validated as http(s)); nothing is fetched yet.
    pub fn new(url: &str, algorithm: Algorithm) -> Result<Self, ConfigError> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .ok_or_else(|| ConfigError::new("app_jwt.jwks_url", "has no host"))?;
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            // Fetches are rare and may run on any worker's runtime: no pooled connections
            // tied to another runtime.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| ConfigError::new("app_jwt.jwks_url", format!("no HTTP client: {e}")))?;
        Ok(Self {
            url: url.to_owned(),
            host,
            algorithm,
            client,
            keys: ArcSwap::from_pointee(KeySet::default()),
            last_refetch: tokio::sync::Mutex::new(None),
        })
    }

    /// Fetches the set once, then keeps it fresh in the background for as long as `self` lives.
    /// A failure now is logged and retried; it does not stop the server.
    pub async fn start(self: &Arc<Self>) {
        let ok = self.refresh("start-up").await;
        if !ok {
            tracing::warn!(
                jwks_host = %self.host,
                "app tokens are refused (401) until the JWKS can be fetched; retrying in the background"
            );
        }
        tokio::spawn(keep_fresh(Arc::downgrade(self), ok));
    }

    /// Runs `f` with the cached key named `kid`.
    pub fn with_key<R>(&self, kid: &str, f: impl FnOnce(&DecodingKey) -> R) -> Lookup<R> {
        let set = self.keys.load();
        match set.keys.get(kid) {
            Some(key) => Lookup::Found(f(key)),
            None if !set.loaded => Lookup::NotLoaded,
            None => Lookup::Unknown,
        }
    }

    /// Which set of keys is installed (it changes with every successful fetch).
    pub fn generation(&self) -> u64 {
        self.keys.load().generation
    }

    /// A token named `kid`, which the set does not have: fetches the set again, unless a fetch
    /// for an unknown kid started less than [`REFETCH_COOLDOWN`] ago.
    pub async fn refetch_for(&self, kid: &str) {
        let mut last = self.last_refetch.lock().await;
        if matches!(self.with_key(kid, |_| ()), Lookup::Found(())) {
            return; // fetched by the request this one waited for
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_COOLDOWN) {
            tracing::debug!(jwks_host = %self.host, kid, "unknown kid; JWKS refetched recently, not again");
            return;
        }
        *last = Some(Instant::now());
        tracing::info!(jwks_host = %self.host, kid, "unknown kid: fetching the JWKS again");
        self.refresh("unknown kid").await;
    }

    /// Fetches and installs the set; on failure keeps the last good one. Whether it worked.
    async fn refresh(&self, why: &str) -> bool {
        match self.fetch().await {
            Ok(keys) => {
                let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
                kids.sort_unstable();
                tracing::info!(jwks_host = %self.host, ?kids, why, "app JWT keys loaded from the JWKS");
                let generation = self.keys.load().generation + 1;
                self.keys.store(Arc::new(KeySet {
                    keys,
                    loaded: true,
                    generation,
                }));
                true
            }
            Err(error) => {
                tracing::warn!(
                    jwks_host = %self.host,
                    %error,
                    why,
                    "could not fetch the app JWT keys (JWKS); keeping the last known"
                );
                false
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, FetchError> {
        // Errors without the URL: only its host is logged.
        let http = |e: reqwest::Error| FetchError::Http(e.without_url());
        let mut response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(http)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().unwrap_or(0) > MAX_BODY as u64 {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        self.parse(&body)
    }

    /// The set's keys usable for the configured algorithm, by kid. Keys are read one by one,
    /// so one the library cannot read (another kty, an x5c-only key) does not hide the others.
    fn parse(&self, body: &[u8]) -> Result<HashMap<String, DecodingKey>, FetchError> {
        #[derive(serde::Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_slice(body).map_err(FetchError::NotJwks)?;
        let mut keys = HashMap::new();
        for value in raw.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone().filter(|k| k.len() <= MAX_KID) else {
                continue;
            };
            if !self.suits(&jwk) {
                continue;
            }
            match DecodingKey::from_jwk(&jwk) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(e) => {
                    tracing::warn!(jwks_host = %self.host, kid, error = %e, "JWKS key not usable");
                }
            }
        }
        if keys.is_empty() {
            return Err(FetchError::NoUsableKey(self.algorithm));
        }
        Ok(keys)
    }

    /// Whether a key is a signing key of the configured algorithm's kind.
    fn suits(&self, jwk: &Jwk) -> bool {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            return false;
        }
        let named_alg = jwk.common.key_algorithm;
        match (self.algorithm, &jwk.algorithm) {
            (Algorithm::ES256, AlgorithmParameters::EllipticCurve(ec)) => {
                ec.curve == EllipticCurve::P256
                    && named_alg.is_none_or(|a| a == KeyAlgorithm::ES256)
            }
            (Algorithm::RS256, AlgorithmParameters::RSA(_)) => {
                named_alg.is_none_or(|a| a == KeyAlgorithm::RS256)
            }
            _ => false,
        }
    }
}

/// Fetches every [`REFRESH_EVERY`], and with growing waits while fetches fail; stops when the
/// key source is dropped.
async fn keep_fresh(jwks: Weak<Jwks>, mut ok: bool) {
    let mut retry = RETRY_FIRST;
    loop {
        let wait = if ok {
            retry = RETRY_FIRST;
            REFRESH_EVERY
        } else {
            let wait = retry;
            retry = (retry * 2).min(RETRY_AT_MOST);
            wait
        };
        tokio::time::sleep(wait).await;
        let Some(jwks) = jwks.upgrade() else {
            return;
        };
        ok = jwks.refresh("scheduled").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks(alg: Algorithm) -> Jwks {
        Jwks::new("https://id.example/.well-known/jwks.json", alg).unwrap()
    }

    #[test]
    fn only_signing_keys_of_the_configured_kind_with_a_kid_are_kept() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/es256-jwks.json")).unwrap();
        let good = fixture["keys"][0].clone();
        let with = |patch: serde_json::Value| {
            let mut key = good.clone();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    key.as_object_mut().unwrap().remove(k);
                } else {
                    key[k] = v.clone();
                }
            }
            key
        };
        let set = serde_json::json!({"keys": [
            good,
            with(serde_json::json!({"kid": "no-alg", "alg": null})),
            with(serde_json::json!({"kid": "enc", "use": "enc"})),
            with(serde_json::json!({"kid": null})),
            with(serde_json::json!({"kid": "other-alg", "alg": "ES384"})),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "unknown-kty"},
        ]});
        let keys = jwks(Algorithm::ES256)
            .parse(set.to_string().as_bytes())
            .unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["fixture-2024", "no-alg"]);
        // An RS256 server finds no key of its kind there.
        assert!(matches!(
            jwks(Algorithm::RS256).parse(set.to_string().as_bytes()),
            Err(FetchError::NoUsableKey(Algorithm::RS256))
        ));
        assert!(matches!(
            jwks(Algorithm::ES256).parse(b"{\"not\": \"a set\"}"),
            Err(FetchError::NotJwks(_))
        ));
    }
}
