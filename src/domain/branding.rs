//! The widget's branding (`widget.branding` in the token request), validated.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An `https://` URL (Belvo loads logos and terms from the public web).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpsUrl(String);

impl HttpsUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > Self::MAX_LEN {
            return Err(format!("is longer than {} characters", Self::MAX_LEN));
        }
        // Written as sent to Belvo: no case games, no whitespace the URL parser would drop.
        if !raw.starts_with("https://") || raw.chars().any(char::is_whitespace) {
            return Err("must be an https:// URL without spaces".into());
        }
        let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
        let host = match url.host() {
            _ if url.scheme() != "https" => return Err("must be an https:// URL".into()),
            Some(url::Host::Domain(host)) if !host.is_empty() => host.to_ascii_lowercase(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                return Err("must name a public host, not an IP address".into())
            }
            _ => return Err("must be an https:// URL".into()),
        };
        // Names that only resolve inside a network (or on the machine itself) would make the
        // widget, or anyone previewing it, fetch from there.
        let host = host.trim_end_matches('.');
        let local = !host.contains('.')
            || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                .iter()
                .any(|suffix| host.ends_with(suffix));
        if local {
            return Err("must name a public host, not a local or link-local name".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HttpsUrl {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).map_err(|e| format!("{raw:?} {e}"))
    }
}

impl From<HttpsUrl> for String {
    fn from(u: HttpsUrl) -> Self {
        u.0
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `#RRGGBB` color.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexColor(String);

impl HexColor {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = raw.len() == 7
            && raw.starts_with('#')
            && raw[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err("must be a color like #F0F2F4".into())
        }
    }
}

impl TryFrom<String> for HexColor {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).map_err(|e| format!("{raw:?} {e}"))
    }
}

impl From<HexColor> for String {
    fn from(c: HexColor) -> Self {
        c.0
    }
}

/// Branding shown by the widget. Every field is optional; Belvo shows its own where absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"company_name": "ACME", "company_logo": "https://cdn.acme.mx/logo.svg",
    "overlay_background_color": "#112233", "social_proof": true}))]
pub struct Branding {
    /// The company name the widget shows: 1 to 60 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The company's icon: an `https://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^(https://\S+)?$", max_length = 2048)]
    pub company_icon: Option<HttpsUrl>,
    /// The company's logo: an `https://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^(https://\S+)?$", max_length = 2048)]
    pub company_logo: Option<HttpsUrl>,
    /// The company's terms and conditions: an `https://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^(https://\S+)?$", max_length = 2048)]
    pub company_terms_url: Option<HttpsUrl>,
    /// The color behind the widget: `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(#[0-9A-Fa-f]{6})?$")]
    pub overlay_background_color: Option<HexColor>,
    /// Whether the widget shows Belvo's social proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub social_proof: Option<bool>,
}

impl Branding {
    pub const MAX_NAME: usize = 60;

    /// Checks what types alone cannot: the company name's length and characters.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(name) = &self.company_name {
            if name.trim().is_empty() || name.chars().count() > Self::MAX_NAME {
                return Err((
                    "company_name",
                    format!("must be 1 to {} characters", Self::MAX_NAME),
                ));
            }
            if name.chars().any(char::is_control) {
                return Err(("company_name", "must not contain control characters".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https() {
        assert!(HttpsUrl::parse("https://mysite.com/logo.svg").is_ok());
        // As the API schema says: a literal https:// and no whitespace.
        assert!(HttpsUrl::parse("HTTPS://mysite.com/logo.svg").is_err());
        assert!(HttpsUrl::parse(" https://mysite.com/logo.svg").is_err());
        assert!(HttpsUrl::parse("https://mysite.com/a logo.svg").is_err());
        assert!(HttpsUrl::parse("http://mysite.com/logo.svg").is_err());
        assert!(HttpsUrl::parse("javascript:alert(1)").is_err());
        assert!(HttpsUrl::parse("logo.svg").is_err());
    }

    #[test]
    fn urls_name_a_public_host() {
        for local in [
            "https://127.0.0.1/logo.svg",
            "https://0x7f.1/logo.svg",
            "https://[::1]/logo.svg",
            "https://[fe80::1]/logo.svg",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/logo.svg",
            "https://localhost/logo.svg",
            "https://printer.local/logo.svg",
            "https://api.localhost./logo.svg",
            "https://metadata.google.internal/x",
            "https://intranet/logo.svg",
        ] {
            assert!(HttpsUrl::parse(local).is_err(), "{local}");
        }
        assert!(HttpsUrl::parse("https://cdn.acme.com.mx/logo.svg").is_ok());
    }

    #[test]
    fn colors_are_rrggbb() {
        assert!(HexColor::parse("#F0F2F4").is_ok());
        assert!(HexColor::parse("#f0f2f4").is_ok());
        assert!(HexColor::parse("F0F2F4").is_err());
        assert!(HexColor::parse("#FFF").is_err());
        assert!(HexColor::parse("#GGGGGG").is_err());
    }

    #[test]
    fn branding_from_the_guide_deserialises() {
        let b: Branding = serde_json::from_value(serde_json::json!({
            "company_icon": "https://mysite.com/icon.svg",
            "company_logo": "https://mysite.com/logo.svg",
            "company_name": "ACME",
            "company_terms_url": "https://belvo.com/terms-service/",
            "overlay_background_color": "#F0F2F4",
            "social_proof": true
        }))
        .unwrap();
        assert!(b.validate().is_ok());
        let bad: Result<Branding, _> =
            serde_json::from_value(serde_json::json!({"company_logo": "http://x"}));
        assert!(bad.is_err());
    }

    #[test]
    fn long_names_are_rejected() {
        let b = Branding {
            company_name: Some("x".repeat(61)),
            ..Default::default()
        };
        assert!(b.validate().is_err());
    }
}
