//! Staff of the support console: who they are, what they may do, and the record of what they did.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::session::Millis;

/// What a staff member may do: `support` reads sessions and links, `admin` also edits branding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    Support,
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::Admin => "admin",
        }
    }

    pub fn is_admin(self) -> bool {
        self == Self::Admin
    }
}

/// A staff account name (config key) or a staff token's `sub`: 1–64 of `[A-Za-z0-9._@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StaffName(String);

impl StaffName {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StaffName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StaffName> for String {
    fn from(n: StaffName) -> Self {
        n.0
    }
}

impl TryFrom<String> for StaffName {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
            .ok_or_else(|| format!("{raw:?} is not a staff name ([A-Za-z0-9._@-]{{1,64}})"))
    }
}

/// How a staff member proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignInMethod {
    Password,
    Token,
}

/// The SHA-256 of a console session cookie: what the store keys sessions by, so a copy of the
/// store holds no cookie that would sign anyone in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionTokenHash(String);

impl SessionTokenHash {
    pub fn of(token: &str) -> Self {
        Self(data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signed-in console session, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffSession {
    pub name: StaffName,
    pub role: StaffRole,
    pub method: SignInMethod,
    /// The anti-forgery token every form of this session carries.
    pub csrf: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// One line of the staff audit log: who did what, to what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Millis,
    /// The account name or token subject; `-` before anyone signed in.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<StaffRole>,
    /// What was done, e.g. `sign_in`, `search`, `view_session`, `branding_update`, `denied`.
    pub action: String,
    /// What it was done to (a session id, a product, a hashed user id...), never raw PII.
    pub target: String,
    /// Whether it was allowed / succeeded.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_names_are_plain() {
        assert!(StaffName::parse("sofia.garcia@acme.mx").is_some());
        assert!(StaffName::parse("").is_none());
        assert!(StaffName::parse("a b").is_none());
        assert!(StaffName::parse("<script>").is_none());
        assert!(StaffName::parse(&"a".repeat(65)).is_none());
    }

    #[test]
    fn session_tokens_are_stored_hashed() {
        let hash = SessionTokenHash::of("secret-cookie-value");
        assert_eq!(hash.as_str().len(), 64);
        assert!(!hash.as_str().contains("secret"));
        assert_eq!(hash, SessionTokenHash::of("secret-cookie-value"));
    }

    #[test]
    fn roles_order_support_below_admin() {
        assert!(StaffRole::Support < StaffRole::Admin);
        assert!(StaffRole::Admin.is_admin());
        assert!(!StaffRole::Support.is_admin());
    }
}
