//! Brazil open-finance consents (SPEC §12): what a CONSENT webhook says about a `br_ofda`
//! link's consent, and the consent as a link carries it. The store keeps the consent beside the
//! link's other health facts (`apply_health.lua`), so a consent change is a health transition.

use serde::{Deserialize, Serialize};

use super::session::Millis;

/// A consent's state, as the app sees it.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ConsentState {
    #[default]
    Active,
    Expiring,
    Expired,
    Unavailable,
}

impl ConsentState {
    /// The value of the link's `consent` field for this state (the fact `apply_health.lua`
    /// derives health from: the health it means, `active` for none).
    pub fn stored(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expiring => "consent_expiring",
            Self::Expired => "consent_expired",
            Self::Unavailable => "unavailable",
        }
    }

    /// The state a stored `consent` field means (absent or unknown: active).
    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "consent_expiring" => Self::Expiring,
            "consent_expired" => Self::Expired,
            "unavailable" => Self::Unavailable,
            _ => Self::Active,
        }
    }

    /// The health reason code of this state (its row in the explanations table); `None` for
    /// `active`.
    pub fn reason_code(self) -> Option<&'static str> {
        match self {
            Self::Active => None,
            Self::Expiring => Some("consent_expiring"),
            Self::Expired => Some("consent_expired"),
            Self::Unavailable => Some("consent_unavailable"),
        }
    }
}

/// What the renewal URL needs from the consent-expired webhook (lifecycle.md, My Belvo Portal).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_icon_logo: Option<String>,
}

/// What a due date in a webhook says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueDate {
    /// The payload has no `consent_due_date`: keep what is known.
    Absent,
    /// Present but unreadable (or null): `due_at` becomes null; the signal still counts.
    Unreadable,
    At(Millis),
}

/// One change a CONSENT webhook makes to a link's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    /// Belvo's webhook code, as received (kept in the consent history).
    pub code: String,
    pub consent_id: Option<String>,
    /// The state it moves to.
    pub state: ConsentState,
    pub due: DueDate,
    /// For `expired`: what the renewal URL carries.
    pub renew: Option<RenewInfo>,
}

/// What a CONSENT webhook means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentSignal {
    Change(ConsentChange),
    /// A code this server does not know: kept in the timeline, counted, changes nothing.
    Unknown,
}

/// Every CONSENT code this server acts on (both spellings of the expired one, lifecycle.md).
pub const CONSENT_CODES: &[&str] = &[
    "openfinance_consent_about_to_expire",
    "openfinance_consent_expired",
    "consent_expired",
    "openfinance_consent_with_unrecoverable_resources",
    "openfinance_consent_with_temporarily_unavailable_resources",
    "openfinance_consent_expiration_changed",
];

/// Reads a CONSENT webhook; `None` for any other webhook type.
pub fn consent_webhook(
    webhook_type: &str,
    webhook_code: &str,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Option<ConsentSignal> {
    if webhook_type != "CONSENT" {
        return None;
    }
    let text = |key: &str| {
        data.get(key)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(512).collect::<String>())
    };
    let (state, due, renew) = match webhook_code {
        "openfinance_consent_about_to_expire" => (
            ConsentState::Expiring,
            due_date(data.get("consent_due_date")),
            None,
        ),
        "openfinance_consent_expired" | "consent_expired" => (
            ConsentState::Expired,
            DueDate::Absent,
            Some(RenewInfo {
                institution: text("institution"),
                institution_display_name: text("institution_display_name"),
                institution_icon_logo: text("institution_icon_logo"),
            }),
        ),
        "openfinance_consent_with_unrecoverable_resources"
        | "openfinance_consent_with_temporarily_unavailable_resources" => {
            (ConsentState::Unavailable, DueDate::Absent, None)
        }
        "openfinance_consent_expiration_changed" => (
            ConsentState::Active,
            due_date(data.get("consent_due_date")),
            None,
        ),
        _ => return Some(ConsentSignal::Unknown),
    };
    Some(ConsentSignal::Change(ConsentChange {
        code: webhook_code.to_owned(),
        consent_id: text("consent_id"),
        state,
        due,
        renew,
    }))
}

/// `consent_due_date` (ISO-8601, e.g. `2024-12-26T10:45:58.000Z`): anything else is unreadable,
/// never an error.
fn due_date(value: Option<&serde_json::Value>) -> DueDate {
    let Some(value) = value else {
        return DueDate::Absent;
    };
    let parsed = value.as_str().and_then(|raw| {
        time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339).ok()
    });
    match parsed {
        Some(at) => DueDate::At((at.unix_timestamp_nanos() / 1_000_000) as Millis),
        None => DueDate::Unreadable,
    }
}

/// A link's consent as stored (`consent_*` fields of the link); the default (active, nothing
/// known) until a CONSENT webhook names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkConsent {
    pub consent_id: Option<String>,
    pub state: ConsentState,
    pub due_at: Option<Millis>,
    pub changed_at: Option<Millis>,
    pub renew: Option<RenewInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_value(v).unwrap()
    }

    fn change(code: &str, d: serde_json::Value) -> ConsentChange {
        match consent_webhook("CONSENT", code, &data(d)) {
            Some(ConsentSignal::Change(c)) => c,
            other => panic!("{code}: {other:?}"),
        }
    }

    #[test]
    fn every_code_moves_the_consent_as_spec_12_says() {
        let soon = change(
            "openfinance_consent_about_to_expire",
            json!({"consent_id": "c-1", "consent_due_date": "2024-12-26T10:45:58.000Z"}),
        );
        assert_eq!(soon.state, ConsentState::Expiring);
        assert_eq!(soon.due, DueDate::At(1_735_209_958_000));
        assert_eq!(soon.consent_id.as_deref(), Some("c-1"));
        for code in ["openfinance_consent_expired", "consent_expired"] {
            let gone = change(
                code,
                json!({"consent_id": "c-1", "action": "renew", "institution": "ofmockbank_br_retail",
                       "institution_display_name": "Mock Bank", "institution_icon_logo": "https://x/logo.png"}),
            );
            assert_eq!(gone.state, ConsentState::Expired, "{code}");
            let renew = gone.renew.unwrap();
            assert_eq!(renew.institution.as_deref(), Some("ofmockbank_br_retail"));
            assert_eq!(renew.institution_display_name.as_deref(), Some("Mock Bank"));
        }
        for code in [
            "openfinance_consent_with_unrecoverable_resources",
            "openfinance_consent_with_temporarily_unavailable_resources",
        ] {
            assert_eq!(change(code, json!({})).state, ConsentState::Unavailable);
        }
        let moved = change(
            "openfinance_consent_expiration_changed",
            json!({"consent_due_date": "2025-06-01T00:00:00Z"}),
        );
        assert_eq!(moved.state, ConsentState::Active);
        assert!(matches!(moved.due, DueDate::At(_)));
        assert_eq!(
            change("openfinance_consent_expiration_changed", json!({})).due,
            DueDate::Absent
        );
        assert_eq!(CONSENT_CODES.len(), 6);
    }

    #[test]
    fn an_unreadable_due_date_is_null_never_an_error() {
        for bad in [
            json!("next tuesday"),
            json!(null),
            json!(17),
            json!("2024-13-40"),
        ] {
            let c = change(
                "openfinance_consent_about_to_expire",
                json!({"consent_due_date": bad}),
            );
            assert_eq!(c.due, DueDate::Unreadable, "{bad}");
            assert_eq!(c.state, ConsentState::Expiring);
        }
    }

    #[test]
    fn unknown_codes_and_other_types_change_nothing() {
        assert_eq!(
            consent_webhook("CONSENT", "openfinance_consent_revoked", &data(json!({}))),
            Some(ConsentSignal::Unknown)
        );
        assert_eq!(
            consent_webhook("LINK", "consent_expired", &data(json!({}))),
            None
        );
    }

    #[test]
    fn stored_values_are_the_health_they_mean() {
        for state in [
            ConsentState::Active,
            ConsentState::Expiring,
            ConsentState::Expired,
            ConsentState::Unavailable,
        ] {
            assert_eq!(ConsentState::from_stored(state.stored()), state);
        }
        assert_eq!(ConsentState::from_stored(""), ConsentState::Active);
    }
}
