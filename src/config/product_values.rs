//! The values of a `[products.NAME]` preset that Belvo reads as strings (`scopes`, `stale_in`,
//! `credentials_storage`, consent `permissions`), parsed once when the configuration loads: a
//! bad one fails deserialisation with its key named, and is written back exactly as Belvo wants.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A scope Belvo knows for widget tokens.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum Scope {
    ReadInstitutions,
    WriteLinks,
    /// Asked for in update mode (a token naming a link), never configured on a product.
    ReadLinks,
    ReadConsents,
    WriteConsents,
    WriteConsentCallback,
    DeleteConsents,
}

/// Scopes as Belvo's guides write them: comma separated (`read_institutions,write_links`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }
}

impl TryFrom<String> for Scopes {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.split(',')
            .map(|s| s.parse().map_err(|_| format!("unknown scope {s:?}")))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            scope.fmt(f)?;
        }
        Ok(())
    }
}

impl From<Scopes> for String {
    fn from(scopes: Scopes) -> Self {
        scopes.to_string()
    }
}

/// A number of days as Belvo writes it: `365d` (1 to 5 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Days(u32);

impl std::str::FromStr for Days {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.strip_suffix('d')
            .filter(|n| (1..=5).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .map(Self)
            .ok_or_else(|| "must be a number of days like 365d".into())
    }
}

impl TryFrom<String> for Days {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}d", self.0)
    }
}

impl From<Days> for String {
    fn from(days: Days) -> Self {
        days.to_string()
    }
}

/// Belvo's `credentials_storage`: `store`, `nostore`, or a number of days (`30d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CredentialsStorage {
    Store,
    NoStore,
    For(Days),
}

impl TryFrom<String> for CredentialsStorage {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.as_str() {
            "store" => Ok(Self::Store),
            "nostore" => Ok(Self::NoStore),
            days => days
                .parse()
                .map(Self::For)
                .map_err(|_| "must be store, nostore or like 30d".into()),
        }
    }
}

impl fmt::Display for CredentialsStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store => f.write_str("store"),
            Self::NoStore => f.write_str("nostore"),
            Self::For(days) => days.fmt(f),
        }
    }
}

impl From<CredentialsStorage> for String {
    fn from(storage: CredentialsStorage) -> Self {
        storage.to_string()
    }
}

/// A consent permission of the OFDA widget.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentPermission {
    Register,
    Accounts,
    CreditCards,
    CreditOperations,
}

impl ConsentPermission {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_and_write_belvos_comma_separated_list() {
        let scopes = Scopes::try_from("read_institutions,write_links".to_owned()).unwrap();
        assert!(scopes.contains(Scope::WriteLinks));
        assert!(!scopes.contains(Scope::ReadConsents));
        assert_eq!(scopes.to_string(), "read_institutions,write_links");
        let err = Scopes::try_from("read_institutions,write_everything".to_owned()).unwrap_err();
        assert!(err.contains("write_everything"), "{err}");
        assert!(Scopes::try_from(String::new()).is_err());
    }

    #[test]
    fn days_are_digits_and_a_d() {
        assert_eq!("365d".parse::<Days>().unwrap().to_string(), "365d");
        for bad in ["365", "d", "-1d", "123456d", "1.5d", "365D"] {
            assert!(bad.parse::<Days>().is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_storage_is_store_nostore_or_days() {
        for ok in ["store", "nostore", "30d"] {
            let parsed = CredentialsStorage::try_from(ok.to_owned()).unwrap();
            assert_eq!(parsed.to_string(), ok);
        }
        assert!(CredentialsStorage::try_from("forever".to_owned()).is_err());
    }

    #[test]
    fn consent_permissions_are_belvos_upper_case_names() {
        assert_eq!(
            "CREDIT_CARDS".parse::<ConsentPermission>(),
            Ok(ConsentPermission::CreditCards)
        );
        assert_eq!(
            ConsentPermission::CreditOperations.as_str(),
            "CREDIT_OPERATIONS"
        );
        assert!("credit_cards".parse::<ConsentPermission>().is_err());
    }
}
