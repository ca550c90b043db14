//! URL-valued settings, parsed when the configuration loads. An optional URL left empty (the
//! default, or `PUBLIC_BASE_URL=` in the environment) means none.

use std::fmt;

use serde::{de::Error as _, Deserialize, Deserializer, Serialize};
use url::Url;

/// `#[serde(deserialize_with = "optional_url")]`: `""` is `None`, anything else must be a URL.
pub fn optional_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Url::parse(&raw)
        .map(Some)
        .map_err(|e| D::Error::custom(format!("is not a URL: {e}")))
}

/// Where callbacks send the app back (`app.deeplink_base.PLATFORM`): a custom scheme
/// (`bffdemo://`) or an https app link, without query or fragment, since the server appends
/// `belvo/{kind}?session_id=..` to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeeplinkBase(String);

impl DeeplinkBase {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeeplinkBase {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        if Url::parse(&raw).is_err() || raw.contains(['?', '#']) {
            return Err(
                "must be a scheme (bffdemo://) or an https:// app link without query".into(),
            );
        }
        Ok(Self(raw))
    }
}

impl fmt::Display for DeeplinkBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<DeeplinkBase> for String {
    fn from(base: DeeplinkBase) -> Self {
        base.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeplink_bases_are_schemes_or_links_without_query() {
        for ok in ["bffdemo://", "https://app.example.com/open"] {
            assert_eq!(DeeplinkBase::try_from(ok.to_owned()).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "not a url",
            "https://app.example.com/?next=x",
            "acme://#x",
        ] {
            assert!(DeeplinkBase::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }
}
