//! App JWTs: verified with the configured key (HS256 secret, RS256/ES256 PEM or JWKS), and
//! minted for local use by `belvo-bff token`.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

pub mod jwks;
mod verified;

pub use verified::{VerifiedTokens, VERIFIED_TOKENS_BYTES};

use crate::config::{ConfigError, JwtAlgorithm, Settings};
use jwks::{Jwks, Lookup, MAX_KID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    App,
    Support,
    Admin,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// One audience or several (RFC 7519 §4.1.3 allows both forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// The `aud` claim: a string, or an array of strings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Why a token was refused. The reason is logged; clients see one generic 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {}", kind_only(.0))]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token subject is empty or too long")]
    BadSubject,
    #[error("token has no staff role (support or admin)")]
    NotStaff,
    #[error("token header has no kid (required with a JWKS)")]
    NoKid,
    #[error("token header names a kid longer than {MAX_KID} bytes")]
    KidTooLong,
    #[error("no key with kid {0:?} in the JWKS")]
    UnknownKid(String),
    #[error("the JWKS has not been fetched yet (kid {0:?})")]
    KeysNotLoaded(String),
}

/// What is wrong with a token, without any of the token's own values (a claim of the wrong type
/// would otherwise be echoed, e.g. a numeric `sub`).
fn kind_only(error: &jsonwebtoken::errors::Error) -> String {
    match error.kind() {
        ErrorKind::Json(_) => "claims of the wrong type or shape".into(),
        ErrorKind::Utf8(_) => "not UTF-8".into(),
        ErrorKind::Base64(_) => "not base64url".into(),
        ErrorKind::Crypto(_) => "signature check failed".into(),
        _ => error.to_string(),
    }
}

impl TokenError {
    /// The kid of a token whose key the cached JWKS lacks: worth one (rate-limited) refetch.
    pub fn missing_kid(&self) -> Option<&str> {
        match self {
            Self::UnknownKid(kid) | Self::KeysNotLoaded(kid) => Some(kid),
            _ => None,
        }
    }
}

/// Where the verifying key comes from.
enum Keys {
    /// The HS256 secret or the PEM public key.
    Fixed(DecodingKey),
    /// The identity provider's JWKS, by the token's kid.
    Jwks(Arc<Jwks>),
}

pub struct AppJwtVerifier {
    keys: Keys,
    validation: Validation,
}

impl AppJwtVerifier {
    /// The verifier for the configured key. With a JWKS nothing is fetched yet (see
    /// [`Self::start`]): until then every token is refused.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let cfg = &settings.app_jwt;
        let alg = match cfg.algorithm {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        };
        let keys = match &cfg.jwks_url {
            Some(url) if cfg.algorithm != JwtAlgorithm::HS256 => {
                Keys::Jwks(Arc::new(Jwks::new(url.as_str(), alg)?))
            }
            _ => Keys::Fixed(Self::fixed_key(settings)?),
        };
        // Only the configured algorithm is accepted: no `none`, no HS/RS confusion.
        let mut validation = Validation::new(alg);
        validation.leeway = cfg.leeway.as_secs();
        validation.validate_nbf = true;
        // A configured issuer or audience must be present in the token, not only right when
        // present.
        let mut required = vec!["exp", "sub"];
        if cfg.issuer.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&[&cfg.issuer]);
            required.push("iss");
        }
        if cfg.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&[&cfg.audience]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Ok(Self { keys, validation })
    }

    /// [`Self::from_settings`], and with a JWKS: fetches it once (a failure is logged, not
    /// fatal) and keeps it fresh in the background while the verifier lives.
    pub async fn start(settings: &Settings) -> Result<Self, ConfigError> {
        let verifier = Self::from_settings(settings)?;
        if let Keys::Jwks(jwks) = &verifier.keys {
            jwks.start().await;
        }
        Ok(verifier)
    }

    fn fixed_key(settings: &Settings) -> Result<DecodingKey, ConfigError> {
        let cfg = &settings.app_jwt;
        let pem = cfg.public_key_pem.as_bytes();
        let bad_pem = |e: jsonwebtoken::errors::Error| {
            ConfigError::new(
                "app_jwt.public_key_pem",
                format!("is not a usable key: {e}"),
            )
        };
        match cfg.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = settings.secrets.app_jwt_secret.as_ref().ok_or_else(|| {
                    ConfigError::new("BFF_APP_JWT_SECRET", "is required for HS256")
                })?;
                Ok(DecodingKey::from_secret(secret.expose_secret().as_bytes()))
            }
            JwtAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem).map_err(bad_pem),
            JwtAlgorithm::ES256 => DecodingKey::from_ec_pem(pem).map_err(bad_pem),
        }
    }

    /// Checks a token against the keys in memory (no I/O). With a JWKS, a token whose kid the
    /// cached set lacks fails with an error whose [`TokenError::missing_kid`] is set: see
    /// [`Self::verify_after_refetch`].
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data = match &self.keys {
            Keys::Fixed(key) => jsonwebtoken::decode::<Claims>(token, key, &self.validation)?,
            Keys::Jwks(jwks) => {
                let header = jsonwebtoken::decode_header(token)?;
                // The header's alg picks nothing: it must be the configured one (checked again
                // by `decode`), and a token with another is refused before any key lookup.
                if !self.validation.algorithms.contains(&header.alg) {
                    let invalid = jsonwebtoken::errors::Error::from(ErrorKind::InvalidAlgorithm);
                    return Err(invalid.into());
                }
                let kid = header.kid.ok_or(TokenError::NoKid)?;
                if kid.len() > MAX_KID {
                    return Err(TokenError::KidTooLong);
                }
                let decoded = jwks.with_key(&kid, |key| {
                    jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                });
                match decoded {
                    Lookup::Found(result) => result?,
                    Lookup::Unknown => return Err(TokenError::UnknownKid(kid)),
                    Lookup::NotLoaded => return Err(TokenError::KeysNotLoaded(kid)),
                }
            }
        };
        let sub_len = data.claims.sub.len();
        if sub_len == 0 || sub_len > 256 {
            return Err(TokenError::BadSubject);
        }
        Ok(data.claims)
    }

    /// Which keys [`Self::verify`] checks against now: a token verified under another
    /// generation must be verified again (the JWKS changed; a fixed key never does).
    pub fn keys_generation(&self) -> u64 {
        match &self.keys {
            Keys::Fixed(_) => 0,
            Keys::Jwks(jwks) => jwks.generation(),
        }
    }

    /// Whether a token that passed [`Self::verify`] and expires at `exp` would still pass at
    /// `now` (seconds since the epoch), with the same leeway. Time only moves forward, so a
    /// `nbf` that was reached stays reached.
    pub fn still_valid(&self, exp: u64, now: u64) -> bool {
        now.saturating_sub(self.validation.leeway) <= exp
    }

    /// For a token that failed [`Self::verify`] only because the cached JWKS lacks its kid:
    /// fetches the set again (at most once per cooldown, however many such tokens arrive) and
    /// checks the token against what it has then.
    pub async fn verify_after_refetch(&self, token: &str) -> Result<Claims, TokenError> {
        let first = self.verify(token);
        let (Keys::Jwks(jwks), Err(error)) = (&self.keys, &first) else {
            return first;
        };
        let Some(kid) = error.missing_kid() else {
            return first;
        };
        jwks.refetch_for(kid).await;
        self.verify(token)
    }
}

/// Mints a token the running server accepts (HS256 only: the server holds no private keys).
/// App tokens are signed with the app secret, staff tokens with the staff session secret.
pub fn mint(
    settings: &Settings,
    sub: &str,
    role: Role,
    ttl: Duration,
) -> Result<String, ConfigError> {
    let secret = match role {
        Role::App => {
            if settings.app_jwt.algorithm != JwtAlgorithm::HS256 {
                return Err(ConfigError::new(
                    "app_jwt.algorithm",
                    "is not HS256: app tokens are minted by your own identity provider",
                ));
            }
            settings
                .secrets
                .app_jwt_secret
                .clone()
                .ok_or_else(|| ConfigError::new("BFF_APP_JWT_SECRET", "is not set"))?
        }
        Role::Support | Role::Admin => settings.secrets.staff_session_secret.clone(),
    };
    let now = jsonwebtoken::get_current_timestamp();
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let claims = Claims {
        sub: sub.to_owned(),
        exp: now + ttl.as_secs(),
        iat: Some(now),
        iss: non_empty(&settings.app_jwt.issuer).filter(|_| role == Role::App),
        aud: non_empty(&settings.app_jwt.audience)
            .filter(|_| role == Role::App)
            .map(Audience::One),
        role: (role != Role::App).then_some(role),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| ConfigError::new("token", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reason_names_the_kind_of_problem_not_the_tokens_values() {
        let key = b"a test secret of enough length!!";
        let claims = serde_json::json!({"sub": 987_654_321_u64, "exp": 4_000_000_000_u64});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key),
        )
        .unwrap();
        let error = jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_secret(key),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap_err();
        let reason = TokenError::from(error).to_string();
        assert!(!reason.contains("987654321"), "{reason}");
        assert!(reason.contains("wrong type"), "{reason}");
    }
}
