//! Identifiers that arrive from outside, parsed once at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a value from outside is not the identifier it should be: the sentence completes
/// "`<field>` ...", so a 400 or a configuration error can say what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is not a session id (a lower-case hyphenated UUID)")]
    SessionId,
    #[error("is not a link id (a hyphenated UUID)")]
    LinkId,
    #[error("must be 1 to 64 characters")]
    CodeLength,
    #[error("may hold only letters, digits, `_` and `-`")]
    CodeCharacters,
    #[error("is longer than 1 KiB")]
    MessageTooLong,
    #[error("has control characters")]
    MessageControl,
    #[error("is not a product name ([a-z0-9_]{{1,40}})")]
    ProductName,
}

/// `FromStr` and `TryFrom<String>` (for serde's `try_from`) through the type's `parse`.
macro_rules! parsed_from_strings {
    ($($ty:ty),*) => {$(
        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(raw: &str) -> Result<Self, IdError> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                Self::parse(&raw).map_err(|e| format!("{raw:?} {e}"))
            }
        }
    )*};
}

parsed_from_strings!(SessionId, LinkId, Code, Message, ProductName);

/// A widget session id: a random UUID in its hyphenated lowercase form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts only the canonical hyphenated form, so one session has one spelling.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        parse_canonical_uuid(raw)
            .map(Self)
            .ok_or(IdError::SessionId)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.to_string()
    }
}

/// A Belvo link id (a UUID, as in the success callback's `link` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkId(Uuid);

impl LinkId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        parse_canonical_uuid(&raw.to_ascii_lowercase())
            .map(Self)
            .ok_or(IdError::LinkId)
    }

    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl From<LinkId> for String {
    fn from(id: LinkId) -> Self {
        id.to_string()
    }
}

fn parse_canonical_uuid(raw: &str) -> Option<Uuid> {
    if raw.len() != 36 {
        return None;
    }
    let id = Uuid::parse_str(raw).ok()?;
    (id.hyphenated().to_string() == raw).then_some(id)
}

/// A Belvo code-like value: institution codes, error codes, steps.
/// Belvo's own codes are `[A-Za-z0-9_-]` (`login_error`, `ACCESS_TOKEN_NOT_VALID`), at most 64 long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    pub const MAX_LEN: usize = 64;
    /// What `parse` accepts, as a regular expression (for the API's schemas).
    pub const PATTERN: &'static str = "^[A-Za-z0-9_-]{1,64}$";

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if !(1..=Self::MAX_LEN).contains(&raw.len()) {
            return Err(IdError::CodeLength);
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(IdError::CodeCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Code> for String {
    fn from(code: Code) -> Self {
        code.0
    }
}

/// Free text Belvo sends with a code (`error_message`, ...): at most 1 KiB, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Message(String);

impl Message {
    pub const MAX_BYTES: usize = 1024;

    /// At most 1 KiB and no control characters; bidirectional overrides and isolates
    /// (U+202A–U+202E, U+2066–U+2069) are removed, so a message cannot make the console show
    /// text in another order than it was sent.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.len() > Self::MAX_BYTES {
            return Err(IdError::MessageTooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(IdError::MessageControl);
        }
        Ok(Self(raw.chars().filter(|c| !is_bidi_control(*c)).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that reorder the text around them when displayed.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl From<Message> for String {
    fn from(m: Message) -> Self {
        m.0
    }
}

/// A product name as used in `[products.NAME]` and in requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductName(String);

impl ProductName {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = (1..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| Self(raw.to_owned())).ok_or(IdError::ProductName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ProductName> for String {
    fn from(p: ProductName) -> Self {
        p.0
    }
}

/// The app platform a session was opened from; it picks the deeplink the callbacks return to.
/// Spelled in lower case everywhere (`ios`); `"ios".parse::<Platform>()` reads it back.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Web,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// `single` or `recurrent` links.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AccessMode {
    Single,
    Recurrent,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_accepts_only_the_canonical_form() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(&id.to_string()), Ok(id));
        assert!(SessionId::parse(&id.to_string().to_uppercase()).is_err());
        assert!(SessionId::parse(&id.to_string().replace('-', "")).is_err());
        assert!(SessionId::parse("../../etc/passwd").is_err());
        assert!(SessionId::parse("").is_err());
    }

    #[test]
    fn link_id_is_a_uuid() {
        assert!(LinkId::parse("cb65f82c-dc93-4d3e-8270-9a27528397f5").is_ok());
        assert!(LinkId::parse("CB65F82C-DC93-4D3E-8270-9A27528397F5").is_ok());
        assert!(LinkId::parse("cb65f82c").is_err());
        assert!(LinkId::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn a_refusal_says_why() {
        assert_eq!(Code::parse(""), Err(IdError::CodeLength));
        assert_eq!(Code::parse("a b"), Err(IdError::CodeCharacters));
        assert_eq!(
            Message::parse(&"x".repeat(1025)),
            Err(IdError::MessageTooLong)
        );
        assert_eq!(LinkId::parse("cb65f82c"), Err(IdError::LinkId));
        let err = Code::try_from("<b>".to_owned()).unwrap_err();
        assert_eq!(err, "\"<b>\" may hold only letters, digits, `_` and `-`");
        let id = SessionId::generate();
        let read: SessionId = serde_json::from_value(serde_json::json!(id.to_string())).unwrap();
        assert_eq!(read, id);
        assert!(serde_json::from_value::<SessionId>(serde_json::json!("../x")).is_err());
    }

    #[test]
    fn codes_follow_belvo_charset() {
        assert!(Code::parse("login_error").is_ok());
        assert!(Code::parse("ACCESS_TOKEN_NOT_VALID").is_ok());
        assert!(Code::parse("abandon-survey").is_ok());
        assert!(Code::parse("").is_err());
        assert!(Code::parse(&"a".repeat(65)).is_err());
        assert!(Code::parse("<script>").is_err());
        assert!(Code::parse("a b").is_err());
    }

    #[test]
    fn messages_are_bounded_and_printable() {
        assert!(Message::parse("Invalid credentials provided to login to the institution").is_ok());
        assert!(Message::parse("<script>alert(1)</script>").is_ok());
        assert!(Message::parse(&"x".repeat(1024)).is_ok());
        assert!(Message::parse(&"x".repeat(1025)).is_err());
        assert_eq!(Message::parse("a\nb"), Err(IdError::MessageControl));
        let reordered = Message::parse("pay \u{202E}gnp.exe\u{202C} \u{2066}x\u{2069}").unwrap();
        assert_eq!(
            reordered.as_str(),
            "pay gnp.exe x",
            "bidi controls are removed"
        );
    }

    #[test]
    fn platforms_and_access_modes_round_trip_through_their_names() {
        for p in [Platform::Ios, Platform::Android, Platform::Web] {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(Platform::Android.as_str(), "android");
        assert!("IOS".parse::<Platform>().is_err());
        assert_eq!("recurrent".parse::<AccessMode>(), Ok(AccessMode::Recurrent));
        assert!("".parse::<AccessMode>().is_err());
    }

    #[test]
    fn product_names_are_snake_case() {
        assert!(ProductName::parse("br_ofda").is_ok());
        assert!(ProductName::parse("BR_OFDA").is_err());
        assert!(ProductName::parse("br-ofda").is_err());
    }
}
