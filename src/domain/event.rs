//! Outbound events for the company's backend (SPEC §13): their types, the patterns endpoints
//! subscribe with, and the body one event is delivered with.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

macro_rules! event_types {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// Every event type. Adding one is one line here (and the state change that writes it).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($(#[$doc])* $variant,)+
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }
        }
    };
}

event_types! {
    /// A session's widget connected a link.
    SessionSucceeded = "session.succeeded",
    /// The user left the widget.
    SessionExited = "session.exited",
    /// The widget reported an error that ends the session (or the success was refused).
    SessionFailed = "session.failed",
    /// A session was still pending at its deadline (`sessions.pending_timeout`).
    SessionExpired = "session.expired",
    /// Belvo's record confirmed the link a session connected.
    LinkVerified = "link.verified",
    /// Belvo's record did not confirm the link a session named.
    LinkVerificationFailed = "link.verification_failed",
    /// Every fetch resource of the link's product is ready (a `historical_update` for each).
    LinkResourcesReady = "link.resources_ready",
    /// The link needs its user to reconnect (credentials).
    LinkNeedsReconnect = "link.needs_reconnect",
    /// The link is healthy again after a problem.
    LinkRepaired = "link.repaired",
    /// The link's consent expires soon (`br_ofda`).
    LinkConsentExpiring = "link.consent_expiring",
    /// The link's consent expired (`br_ofda`).
    LinkConsentExpired = "link.consent_expired",
    /// Belvo no longer knows the link.
    LinkGone = "link.gone",
    /// The link's owner deleted it.
    LinkDeleted = "link.deleted",
}

impl EventType {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == name)
    }
}

/// What an endpoint subscribes to: an event type (`session.failed`), a family (`session.*`) or
/// everything (`*`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventPattern(String);

impl TryFrom<String> for EventPattern {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<EventPattern> for String {
    fn from(pattern: EventPattern) -> String {
        pattern.0
    }
}

impl EventPattern {
    /// A pattern that matches at least one known event type.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let pattern = Self(raw.to_owned());
        if EventType::ALL.iter().any(|t| pattern.matches(t.as_str())) {
            Ok(pattern)
        } else {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            Err(format!(
                "{raw:?} matches no event type (known: {}; a family as `session.*`, or `*`)",
                known.join(", ")
            ))
        }
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some("") => true,
            Some(family) if family.ends_with('.') => event_type.starts_with(family),
            Some(_) => false,
            None => self.0 == event_type,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The app's own user id (the JWT's `sub`): kept on a session only when events carry it, sent
/// only in signed events, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSub(pub String);

impl std::fmt::Debug for AppSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSub(..)")
    }
}

/// The fields of one outbox entry (as the store keeps them) that go into `data`, in this order.
const DATA_FIELDS: &[&str] = &[
    "session_id",
    "link_id",
    "product",
    "sub",
    "external_id",
    "institution",
    "health",
    "reason",
];

/// The body of one event, from its outbox entry's fields (`type`, `at` in ms, `sequence`,
/// and the [`DATA_FIELDS`] it has): the same bytes on every attempt. `None` when the entry is
/// not an event this version knows (it is then dropped, not retried).
pub fn body(fields: &BTreeMap<String, String>, include_sub: bool) -> Option<String> {
    let event_type = EventType::parse(fields.get("type")?)?;
    let at: i64 = fields.get("at")?.parse().ok()?;
    let timestamp = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    let mut data = Map::new();
    for name in DATA_FIELDS {
        if *name == "sub" && !include_sub {
            continue;
        }
        if let Some(value) = fields.get(*name).filter(|v| !v.is_empty()) {
            data.insert((*name).to_owned(), Value::String(value.clone()));
        }
    }
    let sequence: u64 = fields.get("sequence")?.parse().ok()?;
    data.insert("sequence".into(), sequence.into());
    // Written straight into the string (`Value`'s `to_string` goes through `fmt`, slower).
    serde_json::to_string(
        &json!({"type": event_type.as_str(), "timestamp": timestamp, "data": data}),
    )
    .ok()
}

/// The event's time (ms), from its outbox entry.
pub fn occurred_at(fields: &BTreeMap<String, String>) -> Option<i64> {
    fields.get("at")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_types_and_families() {
        let family = EventPattern::parse("session.*").unwrap();
        assert!(family.matches("session.failed"));
        assert!(!family.matches("link.gone"));
        assert!(EventPattern::parse("*").unwrap().matches("session.exited"));
        let one = EventPattern::parse("session.exited").unwrap();
        assert!(one.matches("session.exited") && !one.matches("session.failed"));
        for bad in ["", "session", "sessions.*", "session*", "link", "*.failed"] {
            assert!(EventPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_body_carries_the_data_and_leaves_the_sub_out_when_asked() {
        let fields: BTreeMap<String, String> = [
            ("type", "session.failed"),
            ("at", "1767225600000"),
            ("session_id", "s1"),
            ("product", "mx_employment"),
            ("sub", "maria"),
            ("external_id", "u_x"),
            ("reason", "login_error"),
            ("link_id", ""),
            ("sequence", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let with: Value = serde_json::from_str(&body(&fields, true).unwrap()).unwrap();
        assert_eq!(with["type"], "session.failed");
        assert_eq!(with["timestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(with["data"]["sub"], "maria");
        assert_eq!(with["data"]["reason"], "login_error");
        assert_eq!(with["data"]["sequence"], 2);
        assert!(with["data"].get("link_id").is_none());
        let without: Value = serde_json::from_str(&body(&fields, false).unwrap()).unwrap();
        assert!(without["data"].get("sub").is_none());
        assert_eq!(body(&fields, true), body(&fields, true));
        let mut unknown = fields.clone();
        unknown.insert("type".into(), "session.vanished".into());
        assert_eq!(body(&unknown, true), None);
    }
}
