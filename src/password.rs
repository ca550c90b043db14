//! Staff passwords: argon2id hashes in PHC format (`belvo-bff hash-password`), checked in
//! constant time. Unknown accounts are checked against a dummy hash so timing does not tell
//! which account names exist.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Shortest password `hash-password` accepts.
pub const MIN_LEN: usize = 12;

/// Hashes a password with argon2id and the crate's default (OWASP) parameters.
pub fn hash(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!(
            "the password must be at least {MIN_LEN} characters"
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("could not hash the password: {e}"))
}

/// Checks a configured hash: it must be argon2id in PHC format.
pub fn check_hash(phc: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| format!("is not a PHC hash ({e}); use `belvo-bff hash-password`"))?;
    if parsed.algorithm != argon2::Algorithm::Argon2id.ident() {
        return Err("must be an argon2id hash; use `belvo-bff hash-password`".into());
    }
    Ok(())
}

/// The right to run one password check: at most one per core at once, so a flood of sign-ins
/// cannot queue unbounded argon2 work (each check holds ~19 MiB and tens of milliseconds of CPU).
pub struct CheckSlot {
    /// Held, never read: dropping the slot frees the permit.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl CheckSlot {
    /// A free slot, or `None` when every one is taken.
    pub fn try_take() -> Option<Self> {
        static SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Arc::new(Semaphore::new(cores))
        });
        SLOTS
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|permit| Self { _permit: permit })
    }

    /// [`verify`], counted in `bff_staff_password_checks_total`; frees the slot when done.
    /// CPU-heavy: call from a blocking thread.
    pub fn verify(self, password: &str, phc: Option<&str>) -> bool {
        crate::metrics::password_checked();
        verify(password, phc)
    }
}

/// Whether `password` matches `phc`; `None` (no such account) still spends the same work.
/// CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash("no account has this password").expect("hashing works"));
    let matched = PasswordHash::new(phc.unwrap_or(&DUMMY))
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    matched && phc.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(check_hash(&h).is_ok());
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("wrong horse battery", Some(&h)));
        assert!(!verify("correct horse battery", None));
    }

    #[test]
    fn short_passwords_and_other_hashes_are_refused() {
        assert!(hash("short").is_err());
        assert!(check_hash("plaintext").is_err());
        assert!(
            check_hash("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$L0Nu7pRbrd9Nqq3Xs5mhBQ").is_err()
        );
    }
}
