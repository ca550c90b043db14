//! `[staff]`: console sign-in — accounts with argon2id hashes, session lifetime, lockout.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::staff::{StaffName, StaffRole};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSettings {
    /// How long a console sign-in lasts (cookie and server-side record).
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Failed sign-ins allowed per account within `lockout_window`.
    pub max_failures_per_account: u64,
    /// Failed sign-ins allowed per client address within `lockout_window`.
    pub max_failures_per_ip: u64,
    /// The window failed sign-ins are counted in; it starts at the first failure.
    #[serde(with = "humantime_serde")]
    pub lockout_window: Duration,
    /// Accounts by name: `[staff.accounts.NAME] password_hash = "$argon2id$...", role = "support"`.
    #[serde(default)]
    pub accounts: BTreeMap<String, StaffAccount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffAccount {
    /// An argon2id hash in PHC format, as `belvo-bff hash-password` prints it. Never printed.
    #[serde(serialize_with = "hidden")]
    pub password_hash: String,
    /// `support` (read) or `admin` (also branding).
    pub role: StaffRole,
}

/// `check-config` shows that a hash is set, not the hash (it could be attacked offline).
fn hidden<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("argon2id hash (hidden)")
}

impl StaffSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.session_ttl < Duration::from_secs(60)
            || self.session_ttl > Duration::from_secs(7 * 86400)
        {
            return Err(ConfigError::new(
                "staff.session_ttl",
                "must be between 1m and 7d",
            ));
        }
        if self.max_failures_per_account == 0 || self.max_failures_per_ip == 0 {
            return Err(ConfigError::new(
                "staff.max_failures_per_account",
                "limits must be at least 1",
            ));
        }
        for (name, account) in &self.accounts {
            let key = format!("staff.accounts.{name}");
            if StaffName::parse(name).is_none() {
                return Err(ConfigError::new(
                    key,
                    "names use only letters, digits, '.', '_', '@', '-'",
                ));
            }
            crate::password::check_hash(&account.password_hash)
                .map_err(|problem| ConfigError::new(format!("{key}.password_hash"), problem))?;
        }
        Ok(())
    }

    /// The account of that name, if configured.
    pub fn account(&self, name: &str) -> Option<&StaffAccount> {
        self.accounts.get(name)
    }
}
