//! Link health (SPEC §11): three independent facts stored on a link — credentials, consent
//! (SPEC §12, `super::consent`), existence — and the health derived from them, the worst one
//! winning. The store applies a [`HealthChange`] atomically and answers the transition, so the
//! change points (`link.needs_reconnect`, `link.repaired`, `link.gone` events) are one place:
//! [`HealthTransition`].

use serde::{Deserialize, Serialize};

use super::event::EventType;
use super::ids::LinkId;
use super::session::Millis;

/// A link's health, best first: the derived value is the worst fact's.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
// `Health` in the OpenAPI document is the probes' answer (`/healthz`).
#[schema(as = LinkHealth)]
pub enum Health {
    Ok,
    ConsentExpiring,
    Unavailable,
    NeedsReconnect,
    ConsentExpired,
    Gone,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored or queried spelling (`needs_reconnect`...).
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    /// Every value that needs attention (all but `ok`), for the support index.
    pub fn needing_attention() -> impl Iterator<Item = Health> {
        use strum::IntoEnumIterator;
        Health::iter().filter(|h| *h != Health::Ok)
    }
}

/// Why a link's health is not `ok`: the winning fact's code and Belvo's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReason {
    pub code: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// A link's health as stored: the derived value, its reason, when it changed, when Belvo's
/// record was last read. `None` fields for a link nothing was ever learnt about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkHealth {
    /// `None` until a first fact; read as `ok` (or `unavailable` before confirmation).
    pub health: Option<Health>,
    pub reason: Option<HealthReason>,
    pub changed_at: Option<Millis>,
    pub checked_at: Option<Millis>,
}

impl LinkHealth {
    pub fn current(&self) -> Health {
        self.health.unwrap_or(Health::Ok)
    }
}

/// Belvo's record of a link (`GET /api/links/{id}/`), as far as health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BelvoRecord {
    Valid,
    Invalid,
    TokenRequired,
    Unconfirmed,
    /// Belvo answered 404.
    Missing,
}

impl BelvoRecord {
    /// Belvo's `status`; an unknown value is treated as nothing learnt (`None`).
    pub fn from_status(status: &str) -> Option<Self> {
        match status {
            "valid" => Some(Self::Valid),
            "invalid" => Some(Self::Invalid),
            "token_required" => Some(Self::TokenRequired),
            "unconfirmed" => Some(Self::Unconfirmed),
            _ => None,
        }
    }
}

/// One thing learnt about a link's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthChange {
    /// A LINK webhook (`invalid_credentials`, `token_required`) or a data call Belvo answered
    /// `400 invalid_link` / `428 token_required`: credentials need the user.
    CredentialsFailed(HealthReason),
    /// A successful reconnect (update mode) of this very link: credentials are fine again.
    Reconnected,
    /// Belvo's record was read (a check, or a data call answered 404).
    Record(BelvoRecord),
    /// A CONSENT webhook moved a `br_ofda` link's consent (SPEC §12).
    Consent(super::consent::ConsentChange),
    /// A `historical_update` / `new_*_available` webhook for the link: data flows again, so a
    /// consent that expired before it (or whose due date passed) was renewed (SPEC §12).
    DataArrived,
}

/// The credentials problem a LINK webhook reports, if it reports one.
pub fn link_webhook_problem(
    webhook_type: &str,
    webhook_code: &str,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Option<HealthReason> {
    if webhook_type != "LINK" || !matches!(webhook_code, "invalid_credentials" | "token_required") {
        return None;
    }
    Some(HealthReason {
        code: webhook_code.to_owned(),
        message: data
            .get("error_message")
            .and_then(|m| m.as_str())
            .map(|m| m.chars().take(1024).collect()),
    })
}

/// The credentials problem a data call's refusal means: Belvo's `400 invalid_link` or
/// `428 token_required`.
pub fn data_call_problem(status: u16, code: &str, message: &str) -> Option<HealthReason> {
    matches!(
        (status, code),
        (400, "invalid_link") | (428, "token_required")
    )
    .then(|| HealthReason {
        code: code.to_owned(),
        message: (!message.is_empty()).then(|| message.chars().take(1024).collect()),
    })
}

/// What applying a [`HealthChange`] did; `from != to` is a change (kept in the history, moved
/// in the support index, and the point where `link.*` events will be emitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTransition {
    pub link: LinkId,
    pub from: Option<Health>,
    pub to: Health,
    pub reason: Option<HealthReason>,
    pub at: Millis,
}

impl HealthTransition {
    pub fn changed(&self) -> bool {
        self.from.unwrap_or(Health::Ok) != self.to
    }

    /// The outbound event this transition means (SPEC §13): the health it reaches, or
    /// `link.repaired` back to `ok`; none for `unavailable` (mirrored in `apply_health.lua`).
    pub fn event(&self) -> Option<EventType> {
        if !self.changed() {
            return None;
        }
        match (self.from.unwrap_or(Health::Ok), self.to) {
            (_, Health::Gone) => Some(EventType::LinkGone),
            (_, Health::NeedsReconnect) => Some(EventType::LinkNeedsReconnect),
            (_, Health::ConsentExpired) => Some(EventType::LinkConsentExpired),
            (_, Health::ConsentExpiring) => Some(EventType::LinkConsentExpiring),
            (Health::NeedsReconnect | Health::ConsentExpired, Health::Ok) => {
                Some(EventType::LinkRepaired)
            }
            _ => None,
        }
    }
}

/// How many health changes a link keeps (newest first).
pub const MAX_HEALTH_HISTORY: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_health_is_the_greatest() {
        use Health::*;
        let order = [
            Ok,
            ConsentExpiring,
            Unavailable,
            NeedsReconnect,
            ConsentExpired,
            Gone,
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Health::parse("needs_reconnect"), Some(NeedsReconnect));
        assert_eq!(Health::parse("NEEDS_RECONNECT"), None);
        assert_eq!(NeedsReconnect.as_str(), "needs_reconnect");
        assert_eq!(Health::needing_attention().count(), 5);
    }

    #[test]
    fn only_link_webhooks_with_credentials_codes_are_problems() {
        let data: serde_json::Map<_, _> =
            serde_json::from_value(serde_json::json!({"error_message": "wrong password"})).unwrap();
        let problem = link_webhook_problem("LINK", "invalid_credentials", &data).unwrap();
        assert_eq!(problem.code, "invalid_credentials");
        assert_eq!(problem.message.as_deref(), Some("wrong password"));
        assert!(link_webhook_problem("LINK", "token_required", &data).is_some());
        assert!(link_webhook_problem("OWNERS", "invalid_credentials", &data).is_none());
        assert!(link_webhook_problem("LINK", "historical_update", &data).is_none());
        assert!(data_call_problem(400, "invalid_link", "").is_some());
        assert!(data_call_problem(428, "token_required", "x").is_some());
        assert!(data_call_problem(400, "token_required", "x").is_none());
    }
}
