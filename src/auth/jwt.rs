//! App JWTs: verified with the configured key (HS256 secret, RS256/ES256 PEM), and minted for
//! local use by `belvo-bff token`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, JwtAlgorithm, Settings};

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// Why a token was refused. The reason is logged; clients see one generic 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token subject is empty or too long")]
    BadSubject,
    #[error("token has no staff role (support or admin)")]
    NotStaff,
}

pub struct AppJwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl AppJwtVerifier {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let cfg = &settings.app_jwt;
        let pem = cfg.public_key_pem.as_bytes();
        let bad_pem = |e: jsonwebtoken::errors::Error| {
            ConfigError::new(
                "app_jwt.public_key_pem",
                format!("is not a usable key: {e}"),
            )
        };
        let (key, alg) = match cfg.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = settings.secrets.app_jwt_secret.as_ref().ok_or_else(|| {
                    ConfigError::new("BFF_APP_JWT_SECRET", "is required for HS256")
                })?;
                (
                    DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                    Algorithm::HS256,
                )
            }
            JwtAlgorithm::RS256 => (
                DecodingKey::from_rsa_pem(pem).map_err(bad_pem)?,
                Algorithm::RS256,
            ),
            JwtAlgorithm::ES256 => (
                DecodingKey::from_ec_pem(pem).map_err(bad_pem)?,
                Algorithm::ES256,
            ),
        };
        // Only the configured algorithm is accepted: no `none`, no HS/RS confusion.
        let mut validation = Validation::new(alg);
        validation.leeway = cfg.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if cfg.issuer.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&[&cfg.issuer]);
        }
        if cfg.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&[&cfg.audience]);
            validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        }
        Ok(Self { key, validation })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)?;
        let sub_len = data.claims.sub.len();
        if sub_len == 0 || sub_len > 256 {
            return Err(TokenError::BadSubject);
        }
        Ok(data.claims)
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
        aud: non_empty(&settings.app_jwt.audience).filter(|_| role == Role::App),
        role: (role != Role::App).then_some(role),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| ConfigError::new("token", e.to_string()))
}
