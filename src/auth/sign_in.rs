//! Checking who signs in to the console: an account's password (argon2id) or a staff token.
//! Attempts are counted per account and per client address before anything is checked (a
//! success gives its count back); past either limit, sign-in is refused — even with the right
//! password — until the window ends. At most one password check per core runs at once; more
//! are refused at once. Every attempt is audited.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::web;
use sha2::{Digest, Sha256};

use super::audit;
use crate::domain::staff::{SignInMethod, StaffName, StaffRole};
use crate::password;
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
    /// As many password checks as the machine has cores are running: try again in a second.
    #[error("too many sign-ins at once")]
    Busy,
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
    // Each attempt is counted before anything is checked, so a flood of concurrent attempts
    // finds the limit already reached and runs no more password checks than the limit allows.
    // A successful sign-in gives its count back.
    let mut retry_after: Option<Duration> = None;
    for (i, subject) in counters.iter().enumerate() {
        let (tries, left) = state
            .store
            .count_attempt(subject, limits.lockout_window)
            .await?;
        let limit = if i == 0 {
            limits.max_failures_per_ip
        } else {
            limits.max_failures_per_account
        };
        if tries > limit {
            retry_after = Some(retry_after.unwrap_or_default().max(left));
        }
    }
    if let Some(retry_after) = retry_after {
        audit::record_refused(state, &actor, ip, "locked_out").await;
        return Err(SignInError::LockedOut { retry_after });
    }
    let identity = match check(state, credentials).await {
        Checked::Valid(identity) => identity,
        Checked::Invalid => {
            audit::record_refused(state, &actor, ip, "failed").await;
            return Err(SignInError::Refused);
        }
        Checked::Busy => {
            release(state, &counters).await?;
            audit::record_refused(state, &actor, ip, "busy").await;
            return Err(SignInError::Busy);
        }
    };
    release(state, &counters).await?;
    let outcome = match identity.method {
        SignInMethod::Password => "ok_password",
        SignInMethod::Token => "ok_token",
    };
    audit::record_signed_in(state, identity.name.as_str(), ip, outcome).await;
    Ok(identity)
}

/// Gives back the counts of an attempt that was not a failure.
async fn release(state: &AppState, counters: &[String]) -> Result<(), StoreError> {
    for subject in counters {
        state.store.release_attempt(subject).await?;
    }
    Ok(())
}

enum Checked {
    Valid(Identity),
    Invalid,
    /// Every password-check slot is taken: nothing was checked.
    Busy,
}

async fn check(state: &AppState, credentials: Credentials) -> Checked {
    match credentials {
        Credentials::Token(token) => match super::staff::verify_token(&state.settings, &token) {
            Ok((name, role)) => Checked::Valid(Identity {
                name,
                role,
                method: SignInMethod::Token,
            }),
            Err(reason) => {
                tracing::info!(%reason, "staff token refused at sign-in");
                Checked::Invalid
            }
        },
        Credentials::Password { name, password } => {
            let Some(slot) = password::CheckSlot::try_take() else {
                return Checked::Busy;
            };
            let account = state.settings.staff.account(&name).cloned();
            let hash = account.as_ref().map(|a| a.password_hash.clone());
            // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
            let matched = web::block(move || slot.verify(&password, hash.as_deref()))
                .await
                .unwrap_or(false);
            let valid = account.filter(|_| matched).and_then(|account| {
                Some(Identity {
                    name: StaffName::parse(&name)?,
                    role: account.role,
                    method: SignInMethod::Password,
                })
            });
            valid.map_or(Checked::Invalid, Checked::Valid)
        }
    }
}
