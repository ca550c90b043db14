//! `[app.ios]` and `[app.android]`: the apps allowed to open this server's callback URLs as
//! universal links (iOS) or verified app links (Android). Served as
//! `/.well-known/apple-app-site-association` and `/.well-known/assetlinks.json`; an empty
//! section serves 404.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[app.ios]`: the apps listed in `apple-app-site-association`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IosAppLinks {
    /// App IDs, `TEAMID.bundle.id` (the 10-character Apple team id, a dot, the bundle id).
    #[serde(default)]
    pub app_ids: Vec<AppleAppId>,
}

/// `[app.android]`: the app named in `assetlinks.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndroidAppLinks {
    /// The application id, e.g. `com.example.app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<AndroidPackage>,
    /// SHA-256 fingerprints of the signing certificates, `AB:CD:…` (32 bytes; Play App Signing's
    /// key included when Google signs the release).
    #[serde(default)]
    pub sha256_cert_fingerprints: Vec<CertFingerprint>,
}

impl AndroidAppLinks {
    /// A package and its fingerprints make sense only together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.package_name, self.sha256_cert_fingerprints.is_empty()) {
            (Some(_), true) => Err(ConfigError::new(
                "app.android.sha256_cert_fingerprints",
                "needs at least one fingerprint when app.android.package_name is set",
            )),
            (None, false) => Err(ConfigError::new(
                "app.android.package_name",
                "is required when app.android.sha256_cert_fingerprints is set",
            )),
            _ => Ok(()),
        }
    }
}

/// An Apple app id: `ABCDE12345.com.example.app`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppleAppId(String);

impl TryFrom<String> for AppleAppId {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let valid = raw.split_once('.').is_some_and(|(team, bundle)| {
            team.len() == 10
                && team
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && !bundle.is_empty()
                && bundle.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        });
        if valid {
            Ok(Self(raw))
        } else {
            Err(format!(
                "{raw:?} is not an app id: expected TEAMID.bundle.id, e.g. ABCDE12345.com.example.app"
            ))
        }
    }
}

impl From<AppleAppId> for String {
    fn from(id: AppleAppId) -> Self {
        id.0
    }
}

impl AppleAppId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Android application id: dot-separated Java identifiers, at least two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AndroidPackage(String);

impl TryFrom<String> for AndroidPackage {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let parts: Vec<&str> = raw.split('.').collect();
        let valid = parts.len() >= 2
            && parts.iter().all(|part| {
                part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                    && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if valid {
            Ok(Self(raw))
        } else {
            Err(format!(
                "{raw:?} is not an Android package name, e.g. com.example.app"
            ))
        }
    }
}

impl From<AndroidPackage> for String {
    fn from(package: AndroidPackage) -> Self {
        package.0
    }
}

impl AndroidPackage {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SHA-256 certificate fingerprint, kept in the upper-case `AB:CD:…` form Google expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertFingerprint(String);

impl TryFrom<String> for CertFingerprint {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let pairs: Vec<&str> = raw.split(':').collect();
        let valid = pairs.len() == 32
            && pairs
                .iter()
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
        if valid {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(format!(
                "{raw:?} is not a SHA-256 fingerprint: expected 32 hex pairs separated by colons"
            ))
        }
    }
}

impl From<CertFingerprint> for String {
    fn from(fingerprint: CertFingerprint) -> Self {
        fingerprint.0
    }
}

impl CertFingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINGERPRINT: &str = "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

    #[test]
    fn app_ids_need_a_team_id_and_a_bundle_id() {
        assert!(AppleAppId::try_from("ABCDE12345.com.example.app".to_owned()).is_ok());
        assert!(AppleAppId::try_from("ABCDE12345.com.example-app".to_owned()).is_ok());
        for bad in [
            "com.example.app",
            "abcde12345.com.x",
            "ABCDE12345.",
            "ABCDE12345..x",
            "",
        ] {
            assert!(AppleAppId::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn package_names_are_dotted_java_identifiers() {
        assert!(AndroidPackage::try_from("com.example.app".to_owned()).is_ok());
        assert!(AndroidPackage::try_from("com.example_2.app".to_owned()).is_ok());
        for bad in ["app", "com..app", "com.1app", "com.example-app", ""] {
            assert!(AndroidPackage::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints_are_32_hex_pairs_kept_upper_case() {
        let lower = CertFingerprint::try_from(FINGERPRINT.to_ascii_lowercase()).unwrap();
        assert_eq!(lower.as_str(), FINGERPRINT);
        let short = &FINGERPRINT[..FINGERPRINT.len() - 3];
        let not_hex = FINGERPRINT.replacen("14", "ZZ", 1);
        for bad in [short, "146DE983", not_hex.as_str()] {
            assert!(CertFingerprint::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn package_and_fingerprints_go_together() {
        let package = Some(AndroidPackage::try_from("com.example.app".to_owned()).unwrap());
        let fingerprint = CertFingerprint::try_from(FINGERPRINT.to_owned()).unwrap();
        let only_package = AndroidAppLinks {
            package_name: package.clone(),
            sha256_cert_fingerprints: vec![],
        };
        assert!(only_package.validate().is_err());
        let only_fingerprint = AndroidAppLinks {
            package_name: None,
            sha256_cert_fingerprints: vec![fingerprint.clone()],
        };
        assert!(only_fingerprint.validate().is_err());
        let both = AndroidAppLinks {
            package_name: package,
            sha256_cert_fingerprints: vec![fingerprint],
        };
        assert!(both.validate().is_ok());
        assert!(AndroidAppLinks::default().validate().is_ok());
    }
}
