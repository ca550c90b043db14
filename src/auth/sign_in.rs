//! Checking who signs in to the console: an account's password (argon2id) or a staff token.
//! Failures are counted per account and per client address; past either limit, sign-in is
//! refused — even with the right password — until the window ends. Every attempt is audited.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::web;
use sha2::{Digest, Sha256};

use super::{audit, password};
use crate::domain::staff::{SignInMethod, StaffName, StaffRole};
use crate::state::AppState;
use crate::store::StoreError;

/// What the person typed.
pub enum Credentials {
    Password { name: String, password: String },
    Token(String),
}

/// Who signed in.
pub struct Identity {
    pub name: StaffName,
    pub role: StaffRole,
    pub method: SignInMethod,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("too many failed sign-ins")]
    LockedOut { retry_after: Duration },
    #[error("wrong credentials")]
    Refused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Credentials {
    /// The account name the audit log shows for an attempt (never a token or a password).
    fn actor(&self) -> &str {
        match self {
            Self::Token(_) => "(staff token)",
            Self::Password { name, .. } if StaffName::parse(name).is_some() => name,
            Self::Password { .. } => "(invalid name)",
        }
    }

    /// The failure counters this attempt is checked against: per account (hashed, so counter
    /// keys do not list account names) for passwords, and per address.
    fn counters(&self, ip: Option<IpAddr>) -> Vec<String> {
        let mut subjects = vec![format!(
            "staff-login:ip:{}",
            ip.map_or("unknown".into(), |ip| ip.to_string())
        )];
        if let Self::Password { name, .. } = self {
            let digest = Sha256::digest(name.as_bytes());
            subjects.push(format!(
                "staff-login:acct:{}",
                data_encoding::HEXLOWER.encode(&digest[..10])
            ));
        }
        subjects
    }
}

#[tracing::instrument(skip_all, fields(by_token = matches!(credentials, Credentials::Token(_))))]
pub async fn sign_in(
    state: &AppState,
    credentials: Credentials,
    ip: Option<IpAddr>,
) -> Result<Identity, SignInError> {
    let limits = &state.settings.staff;
    let counters = credentials.counters(ip);
    let actor = credentials.actor().to_owned();
    let mut retry_after: Option<Duration> = None;
    for (i, subject) in counters.iter().enumerate() {
        let (tries, left) = state.store.attempts(subject).await?;
        let limit = if i == 0 {
            limits.max_failures_per_ip
        } else {
            limits.max_failures_per_account
        };
        if tries >= limit {
            retry_after = Some(retry_after.unwrap_or_default().max(left));
        }
    }
    if let Some(retry_after) = retry_after {
        audit::record_anonymous(state, &actor, ip, "sign_in", "locked_out").await;
        return Err(SignInError::LockedOut { retry_after });
    }
    let Some(identity) = check(state, credentials).await else {
        for subject in &counters {
            state
                .store
                .count_attempt(subject, limits.lockout_window)
                .await?;
        }
        audit::record_anonymous(state, &actor, ip, "sign_in", "failed").await;
        return Err(SignInError::Refused);
    };
    let outcome = match identity.method {
        SignInMethod::Password => "ok_password",
        SignInMethod::Token => "ok_token",
    };
    audit::record_anonymous(state, identity.name.as_str(), ip, "sign_in", outcome).await;
    Ok(identity)
}

async fn check(state: &AppState, credentials: Credentials) -> Option<Identity> {
    match credentials {
        Credentials::Token(token) => match super::staff::verify_token(&state.settings, &token) {
            Ok((name, role)) => Some(Identity {
                name,
                role,
                method: SignInMethod::Token,
            }),
            Err(reason) => {
                tracing::info!(%reason, "staff token refused at sign-in");
                None
            }
        },
        Credentials::Password { name, password } => {
            let account = state.settings.staff.account(&name).cloned();
            let hash = account.as_ref().map(|a| a.password_hash.clone());
            // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
            let matched = web::block(move || password::verify(&password, hash.as_deref()))
                .await
                .unwrap_or(false);
            let account = account.filter(|_| matched)?;
            Some(Identity {
                name: StaffName::parse(&name)?,
                role: account.role,
                method: SignInMethod::Password,
            })
        }
    }
}
