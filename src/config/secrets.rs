//! Secrets, from the environment only. Outside `embedded`, a missing one stops start-up naming
//! the variable; in `embedded`, each has a fixed, public development default (logged as insecure).

use std::collections::BTreeMap;

use secrecy::SecretString;

use super::{BelvoEnvironment, ConfigError, JwtAlgorithm, Settings};

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub belvo_secret_id: SecretString,
    pub belvo_secret_password: SecretString,
    /// HS256 key for app JWTs (absent with RS256/ES256).
    pub app_jwt_secret: Option<SecretString>,
    pub staff_session_secret: SecretString,
    pub webhook_token: SecretString,
    pub external_id_key: SecretString,
    /// `BFF_STATUS_WEBHOOK_TOKEN`: the status-page webhook's `?token=`; unset turns the
    /// endpoint off (no development default, even embedded).
    pub status_webhook_token: Option<SecretString>,
    /// Each `[[notify.endpoints]]` secret, by its variable (`secret_env`): only those configured.
    pub notify: BTreeMap<String, SecretString>,
    /// Variables that fell back to their development default.
    pub defaulted: Vec<&'static str>,
}

/// Each secret's variable and its development default (embedded mode only; see README).
pub const DEV_DEFAULTS: &[(&str, &str)] = &[
    ("BELVO_SECRET_ID", "dev-secret-id"),
    ("BELVO_SECRET_PASSWORD", "dev-secret-password"),
    (
        "BFF_APP_JWT_SECRET",
        "dev-app-jwt-secret-not-for-production",
    ),
    (
        "BFF_STAFF_SESSION_SECRET",
        "dev-staff-session-secret-not-for-production",
    ),
    ("BFF_WEBHOOK_TOKEN", "dev-webhook-token"),
    (
        "BFF_EXTERNAL_ID_KEY",
        "dev-external-id-key-not-for-production",
    ),
];

impl Secrets {
    pub(super) fn from_env(
        env: &BTreeMap<String, String>,
        settings: &Settings,
    ) -> Result<Self, ConfigError> {
        let embedded = settings.belvo.environment == BelvoEnvironment::Embedded;
        let mut defaulted = Vec::new();
        let mut get = |var: &'static str| -> Result<SecretString, ConfigError> {
            if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
                return Ok(SecretString::from(v.clone()));
            }
            if embedded {
                defaulted.push(var);
                let (_, dev) = DEV_DEFAULTS
                    .iter()
                    .find(|(k, _)| *k == var)
                    .expect("listed");
                return Ok(SecretString::from(*dev));
            }
            Err(ConfigError::new(
                var,
                "is not set (secrets come from the environment)",
            ))
        };
        let hs256 = settings.app_jwt.algorithm == JwtAlgorithm::HS256;
        let notify = notify_secrets(env, settings)?;
        Ok(Self {
            belvo_secret_id: get("BELVO_SECRET_ID")?,
            belvo_secret_password: get("BELVO_SECRET_PASSWORD")?,
            app_jwt_secret: if hs256 {
                Some(get("BFF_APP_JWT_SECRET")?)
            } else {
                None
            },
            staff_session_secret: get("BFF_STAFF_SESSION_SECRET")?,
            webhook_token: get("BFF_WEBHOOK_TOKEN")?,
            external_id_key: get("BFF_EXTERNAL_ID_KEY")?,
            status_webhook_token: env
                .get("BFF_STATUS_WEBHOOK_TOKEN")
                .filter(|v| !v.is_empty())
                .map(|v| SecretString::from(v.clone())),
            notify,
            defaulted,
        })
    }

    /// One line per secret: set, or using its development default. Never the value.
    pub fn describe(&self) -> String {
        DEV_DEFAULTS
            .iter()
            .map(|(var, _)| {
                let state = if self.defaulted.contains(var) {
                    "\"development default (insecure)\""
                } else if *var == "BFF_APP_JWT_SECRET" && self.app_jwt_secret.is_none() {
                    "\"not used\""
                } else {
                    "\"set\""
                };
                format!("{var} = {state}\n")
            })
            .chain(std::iter::once(format!(
                "BFF_STATUS_WEBHOOK_TOKEN = {}\n",
                if self.status_webhook_token.is_some() {
                    "\"set\""
                } else {
                    "\"not set (status webhook off)\""
                }
            )))
            .chain(self.notify.keys().map(|var| format!("{var} = \"set\"\n")))
            .collect()
    }
}

/// The secret of every configured endpoint (even in embedded mode: there is no default), each a
/// `whsec_` Standard Webhooks secret; none when no endpoint is configured.
fn notify_secrets(
    env: &BTreeMap<String, String>,
    settings: &Settings,
) -> Result<BTreeMap<String, SecretString>, ConfigError> {
    let mut secrets = BTreeMap::new();
    for (i, endpoint) in settings.notify.endpoints.iter().enumerate() {
        let var = &endpoint.secret_env;
        let named = format!("(notify.endpoints[{i}].secret_env, for {})", endpoint.url);
        let Some(value) = env.get(var).filter(|v| !v.is_empty()) else {
            return Err(ConfigError::new(
                var.as_str(),
                format!("is not set {named}: secrets come from the environment"),
            ));
        };
        if !value.starts_with("whsec_") || standardwebhooks::Webhook::new(value).is_err() {
            return Err(ConfigError::new(
                var.as_str(),
                format!("{named} must be whsec_ followed by base64 (a Standard Webhooks secret)"),
            ));
        }
        secrets.insert(var.clone(), SecretString::from(value.clone()));
    }
    Ok(secrets)
}
