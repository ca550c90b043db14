//! The `external_id` sent to Belvo: a keyed pseudonym of the app user, never the raw `sub`.

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;

/// `u_` + the first 26 characters of base32(HMAC-SHA256(key, sub)), lowercase.
/// Always valid under Belvo's rules: at least 3 characters of letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn derive(key: &SecretString, sub: &str) -> Self {
        ExternalIdKey::new(key).derive(sub)
    }

    /// Reads an external id back from storage or from a Belvo payload.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (3..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key of [`ExternalId::derive`] made ready once: keying HMAC-SHA256 hashes two blocks,
/// which every app request would otherwise repeat before hashing its `sub`.
#[derive(Clone)]
pub struct ExternalIdKey(Hmac<Sha256>);

impl ExternalIdKey {
    pub fn new(key: &SecretString) -> Self {
        Self(
            Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
                .expect("HMAC accepts keys of any length"),
        )
    }

    /// The external id of `sub` (see [`ExternalId`]).
    pub fn derive(&self, sub: &str) -> ExternalId {
        let mut mac = self.0.clone();
        mac.update(sub.as_bytes());
        let digest = mac.finalize().into_bytes();
        let encoded = data_encoding::BASE32_NOPAD
            .encode(&digest)
            .to_ascii_lowercase();
        ExternalId(format!("u_{}", &encoded[..26]))
    }
}

impl fmt::Debug for ExternalIdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExternalIdKey(..)")
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> SecretString {
        SecretString::from(k.to_owned())
    }

    #[test]
    fn derived_ids_follow_belvo_rules_and_hide_the_sub() {
        let id = ExternalId::derive(&key("k"), "maria@example.com");
        let s = id.as_str();
        assert_eq!(s.len(), 28);
        assert!(s.starts_with("u_"));
        assert!(ExternalId::parse(s).is_some());
        assert!(!s.contains("maria"));
    }

    /// HMAC-SHA256 as any other implementation computes it (Python's `hmac` gave this one):
    /// the ids already stored and sent to Belvo stay the users' ids.
    #[test]
    fn derivation_matches_a_known_answer() {
        let expected = "u_iqzf3hplrfb6sik4r6hxhxwatt";
        assert_eq!(
            ExternalId::derive(&key("k"), "maria@example.com").as_str(),
            expected
        );
        let ready = ExternalIdKey::new(&key("k"));
        assert_eq!(ready.derive("maria@example.com").as_str(), expected);
        // The key is reused, never consumed: a second id comes out the same way.
        assert_eq!(ready.derive("maria@example.com").as_str(), expected);
        assert_eq!(
            ready.derive("joao@example.com"),
            ExternalId::derive(&key("k"), "joao@example.com")
        );
    }

    #[test]
    fn derivation_is_stable_per_key_and_sub() {
        assert_eq!(
            ExternalId::derive(&key("k"), "a"),
            ExternalId::derive(&key("k"), "a")
        );
        assert_ne!(
            ExternalId::derive(&key("k"), "a"),
            ExternalId::derive(&key("k"), "b")
        );
        assert_ne!(
            ExternalId::derive(&key("k1"), "a"),
            ExternalId::derive(&key("k2"), "a")
        );
    }

    #[test]
    fn parse_rejects_what_belvo_rejects() {
        assert!(ExternalId::parse("ab").is_none());
        assert!(ExternalId::parse("a b c").is_none());
        assert!(ExternalId::parse("HJLSI-897809").is_some());
    }
}
