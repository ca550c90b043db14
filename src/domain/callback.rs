//! The events the hosted widget reports through deeplink callbacks (OFDA guide §3),
//! parsed strictly from their query strings.

use serde::{Deserialize, Serialize};

use super::ids::{Code, IdError, LinkId, Message};

/// The path segment of `/callbacks/{session_id}/{kind}`, and the events body's `kind`, in lower
/// case (`"exit".parse()`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
#[schema(rename_all = "lowercase")]
pub enum CallbackKind {
    Success,
    Exit,
    // Belvo's `callback_urls.event`: carries errors and warnings.
    Event,
    Error,
    Warning,
}

/// What the widget told us, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CallbackEvent {
    Success {
        link: LinkId,
        institution: Code,
    },
    Exit {
        #[serde(skip_serializing_if = "Option::is_none")]
        last_encountered_error_code: Option<Code>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_encountered_error_message: Option<Message>,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta_data_institution_name: Option<Code>,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta_data_step: Option<Code>,
    },
    Error {
        error: Code,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_message: Option<Message>,
    },
    Warning {
        warning: Code,
        #[serde(skip_serializing_if = "Option::is_none")]
        warning_message: Option<Message>,
    },
}

/// Why a callback was refused (answered 400, recorded nowhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("`{0}` appears more than once")]
    Repeated(&'static str),
    /// A value that is not what its key holds: `` `link` is not a link id (a hyphenated UUID) ``.
    #[error("`{0}` {1}")]
    Malformed(&'static str, IdError),
    #[error("an event callback needs `error` or `warning`")]
    NoEvent,
}

/// Terminal outcome an event leads to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Exited,
    Failed,
}

impl CallbackEvent {
    /// Parses the query pairs of a callback. Unknown keys (`redirect`, `format`, trackers...) are
    /// ignored; every known key must be present at most once and valid, whatever the kind.
    pub fn parse(kind: CallbackKind, pairs: &[(String, String)]) -> Result<Self, CallbackError> {
        let q = Query(pairs);
        q.check_known_keys()?;
        // Belvo's own example sends an error event to the exit URL: `error=` decides.
        let has_error = q.get("error")?.is_some();
        let has_warning = q.get("warning")?.is_some();
        match kind {
            CallbackKind::Success => Ok(Self::Success {
                link: LinkId::parse(q.required("link")?)
                    .map_err(|e| CallbackError::Malformed("link", e))?,
                institution: q.required_code("institution")?,
            }),
            CallbackKind::Exit if has_error => Self::error(&q),
            CallbackKind::Exit => Ok(Self::Exit {
                last_encountered_error_code: q.code("last_encountered_error_code")?,
                last_encountered_error_message: q.message("last_encountered_error_message")?,
                meta_data_institution_name: q.code("meta_data_institution_name")?,
                meta_data_step: q.code("meta_data_step")?,
            }),
            CallbackKind::Error | CallbackKind::Event if has_error => Self::error(&q),
            CallbackKind::Warning | CallbackKind::Event if has_warning => Self::warning(&q),
            CallbackKind::Error => Err(CallbackError::Missing("error")),
            CallbackKind::Warning => Err(CallbackError::Missing("warning")),
            CallbackKind::Event => Err(CallbackError::NoEvent),
        }
    }

    fn error(q: &Query) -> Result<Self, CallbackError> {
        Ok(Self::Error {
            error: q.required_code("error")?,
            error_message: q.message("error_message")?,
        })
    }

    fn warning(q: &Query) -> Result<Self, CallbackError> {
        Ok(Self::Warning {
            warning: q.required_code("warning")?,
            warning_message: q.message("warning_message")?,
        })
    }

    /// The normalised kind, as used in deeplinks and the timeline.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Success { .. } => "success",
            Self::Exit { .. } => "exit",
            Self::Error { .. } => "error",
            Self::Warning { .. } => "warning",
        }
    }

    /// The terminal status this event moves a pending session to; warnings change nothing.
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            Self::Success { .. } => Some(Outcome::Succeeded),
            Self::Exit { .. } => Some(Outcome::Exited),
            Self::Error { .. } => Some(Outcome::Failed),
            Self::Warning { .. } => None,
        }
    }

    /// A stable fingerprint: a replay of the same event has the same one.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_vec(self).expect("events serialise");
        let digest = Sha256::digest(canonical);
        data_encoding::HEXLOWER.encode(&digest[..16])
    }
}

struct Query<'a>(&'a [(String, String)]);

impl Query<'_> {
    fn get(&self, key: &'static str) -> Result<Option<&str>, CallbackError> {
        let mut found = self.0.iter().filter(|(k, _)| k == key);
        let first = found.next();
        if found.next().is_some() {
            return Err(CallbackError::Repeated(key));
        }
        // An empty value is the same as an absent one (`?meta_data_step=`).
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    fn required(&self, key: &'static str) -> Result<&str, CallbackError> {
        self.get(key)?.ok_or(CallbackError::Missing(key))
    }

    fn code(&self, key: &'static str) -> Result<Option<Code>, CallbackError> {
        self.get(key)?
            .map(|v| Code::parse(v).map_err(|e| CallbackError::Malformed(key, e)))
            .transpose()
    }

    fn required_code(&self, key: &'static str) -> Result<Code, CallbackError> {
        self.code(key)?.ok_or(CallbackError::Missing(key))
    }

    fn message(&self, key: &'static str) -> Result<Option<Message>, CallbackError> {
        self.get(key)?
            .map(|v| Message::parse(v).map_err(|e| CallbackError::Malformed(key, e)))
            .transpose()
    }

    /// Every key Belvo sends on any callback is valid, even where this kind does not use it:
    /// a malformed value is refused, never silently ignored.
    fn check_known_keys(&self) -> Result<(), CallbackError> {
        if let Some(link) = self.get("link")? {
            LinkId::parse(link).map_err(|e| CallbackError::Malformed("link", e))?;
        }
        for key in CODE_KEYS {
            self.code(key)?;
        }
        for key in MESSAGE_KEYS {
            self.message(key)?;
        }
        Ok(())
    }
}

/// The callbacks' keys holding a code (`[A-Za-z0-9_-]{1,64}`).
const CODE_KEYS: [&str; 6] = [
    "institution",
    "last_encountered_error_code",
    "meta_data_institution_name",
    "meta_data_step",
    "error",
    "warning",
];

/// The callbacks' keys holding a message (at most 1 KiB, no control characters).
const MESSAGE_KEYS: [&str; 3] = [
    "last_encountered_error_message",
    "error_message",
    "warning_message",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_kinds_are_exactly_the_parsed_ones() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(CallbackKind::schema()).unwrap();
        let kinds: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["success", "exit", "event", "error", "warning"]);
        for kind in kinds {
            assert!(kind.parse::<CallbackKind>().is_ok(), "{kind}");
        }
    }

    fn pairs(q: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(q).unwrap()
    }

    #[test]
    fn success_from_the_guide() {
        let ev = CallbackEvent::parse(
            CallbackKind::Success,
            &pairs("link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=erebor_br_retail"),
        )
        .unwrap();
        assert_eq!(ev.kind(), "success");
        assert_eq!(ev.outcome(), Some(Outcome::Succeeded));
    }

    #[test]
    fn exit_from_the_guide() {
        let q = "last_encountered_error_code=login_error&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the%20institution&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey";
        let ev = CallbackEvent::parse(CallbackKind::Exit, &pairs(q)).unwrap();
        match ev {
            CallbackEvent::Exit {
                last_encountered_error_code,
                meta_data_step,
                ..
            } => {
                assert_eq!(last_encountered_error_code.unwrap().as_str(), "login_error");
                assert_eq!(meta_data_step.unwrap().as_str(), "abandon-survey");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exit_url_with_error_is_an_error_event() {
        let q = "error=ACCESS_TOKEN_NOT_VALID&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid";
        let ev = CallbackEvent::parse(CallbackKind::Exit, &pairs(q)).unwrap();
        assert_eq!(ev.kind(), "error");
        assert_eq!(ev.outcome(), Some(Outcome::Failed));
    }

    #[test]
    fn event_url_carries_warnings() {
        let q = "warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable.";
        let ev = CallbackEvent::parse(CallbackKind::Event, &pairs(q)).unwrap();
        assert_eq!(ev.kind(), "warning");
        assert_eq!(ev.outcome(), None);
    }

    #[test]
    fn bad_values_are_rejected() {
        let bad = [
            (CallbackKind::Success, "link=nope&institution=x"),
            (CallbackKind::Success, "institution=x"),
            (
                CallbackKind::Success,
                "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=%3Cscript%3E",
            ),
            (CallbackKind::Exit, "last_encountered_error_code=bad%20code"),
            (CallbackKind::Event, ""),
            (CallbackKind::Error, "error=a&error=b"),
            // Keys the kind does not use are checked all the same.
            (CallbackKind::Exit, "link=nope"),
            (CallbackKind::Event, "error=x&link=nope"),
            (
                CallbackKind::Success,
                "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x&warning_message=%C2%84",
            ),
            (
                CallbackKind::Warning,
                "warning=x&last_encountered_error_code=bad%20code",
            ),
        ];
        for (kind, q) in bad {
            assert!(CallbackEvent::parse(kind, &pairs(q)).is_err(), "{q}");
        }
        let long = format!("error=x&error_message={}", "a".repeat(1025));
        assert_eq!(
            CallbackEvent::parse(CallbackKind::Error, &pairs(&long)),
            Err(CallbackError::Malformed(
                "error_message",
                IdError::MessageTooLong
            ))
        );
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let q = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x&redirect=https://evil.example&format=html";
        assert!(CallbackEvent::parse(CallbackKind::Success, &pairs(q)).is_ok());
    }

    #[test]
    fn replays_share_a_fingerprint() {
        let q = "warning=institution_disabled";
        let a = CallbackEvent::parse(CallbackKind::Warning, &pairs(q)).unwrap();
        let b = CallbackEvent::parse(CallbackKind::Event, &pairs(q)).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = CallbackEvent::parse(CallbackKind::Warning, &pairs("warning=other")).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
