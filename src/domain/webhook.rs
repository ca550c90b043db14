//! Belvo webhooks (`historical_update` and errors), parsed strictly, and what they mean for a
//! link's resources.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::external_id::ExternalId;
use super::ids::{Code, LinkId};
use super::session::Millis;

/// A webhook body as in the guides. Unknown fields are ignored (Belvo adds fields over time).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "webhook_id": "aadf41a1fc8e4f79a49f7f04027ac999",
    "webhook_type": "EMPLOYMENT_RECORDS",
    "webhook_code": "historical_update",
    "process_type": "historical_update",
    "link_id": "cb65f82c-dc93-4d3e-8270-9a27528397f5",
    "request_id": "4363b08b-51eb-4350-9c74-5df5ac92a7f6",
    "external_id": "u_cxgsdecvd3bdi3xdw2d3pndka7",
    "data": {"total_employment_record_profiles": 1}
}))]
pub struct WebhookPayload {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub webhook_id: Code,
    /// The resource: EMPLOYMENT_RECORDS, EMPLOYMENTS, OWNERS, ACCOUNTS, TRANSACTIONS...
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub webhook_type: Code,
    /// `historical_update`, or an error code.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub webhook_code: Code,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub process_type: Option<Code>,
    #[schema(value_type = String, format = Uuid)]
    pub link_id: LinkId,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// Totals per resource, e.g. `total_employment_record_profiles`, `total_owners`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    Pending,
    Ready,
    Failed,
}

/// One resource's state on a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceState {
    pub status: Readiness,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Millis>,
}

impl ResourceState {
    pub fn pending() -> Self {
        Self {
            status: Readiness::Pending,
            total: None,
            error_code: None,
            updated_at: None,
        }
    }
}

/// What a store records for one webhook.
#[derive(Debug, Clone)]
pub struct WebhookUpdate {
    pub webhook_id: String,
    pub link: LinkId,
    /// The resource whose state this sets, if the webhook is about one.
    pub resource: Option<(String, ResourceState)>,
    pub external_id: Option<ExternalId>,
    /// The link timeline entry (a JSON object).
    pub timeline_entry: serde_json::Value,
    pub now: Millis,
    /// The credentials problem a LINK webhook reports (applied to the link's health).
    pub health: Option<super::health::HealthReason>,
    /// What a CONSENT webhook says of the link's consent (applied to the link's health).
    pub consent: Option<super::consent::ConsentSignal>,
    /// A `historical_update` or `new_*_available` webhook: the link's data flows (SPEC §12).
    pub data_arrived: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("external_id does not follow Belvo's rules")]
    BadExternalId,
}

impl WebhookPayload {
    /// Turns the payload into the change it makes. `historical_update` marks the resource ready
    /// with its total; an error code (or `data.error_code`) marks it failed; anything else is kept
    /// in the timeline only. A `LINK` webhook is about the link's health, never a resource.
    pub fn into_update(self, now: Millis) -> Result<WebhookUpdate, WebhookError> {
        let external_id = match self.external_id.as_deref().filter(|e| !e.is_empty()) {
            Some(raw) => Some(ExternalId::parse(raw).ok_or(WebhookError::BadExternalId)?),
            None => None,
        };
        let code = self.webhook_code.as_str();
        // LINK and CONSENT webhooks are about the link's health, never a resource.
        let is_link = matches!(self.webhook_type.as_str(), "LINK" | "CONSENT");
        let health =
            super::health::link_webhook_problem(self.webhook_type.as_str(), code, &self.data);
        let consent = super::consent::consent_webhook(self.webhook_type.as_str(), code, &self.data);
        let data_arrived = !is_link
            && (code == "historical_update"
                || (code.starts_with("new_") && code.ends_with("_available")));
        let error_code = self
            .data
            .get("error_code")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| code.contains("error").then(|| code.to_owned()));
        let state = if is_link {
            None
        } else if let Some(error_code) = error_code {
            Some(ResourceState {
                status: Readiness::Failed,
                total: None,
                error_code: Some(error_code),
                updated_at: Some(now),
            })
        } else if code == "historical_update" {
            Some(ResourceState {
                status: Readiness::Ready,
                total: total_of(&self.data),
                error_code: None,
                updated_at: Some(now),
            })
        } else {
            None
        };
        let timeline_entry = serde_json::json!({
            "kind": "webhook",
            "at": now,
            "webhook_id": self.webhook_id,
            "webhook_type": self.webhook_type,
            "webhook_code": self.webhook_code,
            "request_id": self.request_id,
            "data": self.data,
        });
        Ok(WebhookUpdate {
            webhook_id: self.webhook_id.to_string(),
            link: self.link_id,
            resource: state.map(|s| (self.webhook_type.to_string(), s)),
            external_id,
            timeline_entry,
            now,
            health,
            consent,
            data_arrived,
        })
    }
}

/// The first `total_*` count in `data` (`total_employment_record_profiles`, `total_owners`...).
fn total_of(data: &serde_json::Map<String, serde_json::Value>) -> Option<u64> {
    data.iter()
        .filter(|(k, _)| k.starts_with("total_"))
        .find_map(|(_, v)| v.as_u64())
}

/// Each product's fetch resources (`products.*.fetch_resources`) by product name: a link's
/// resources are all ready (SPEC §13 `link.resources_ready`) once each of its product's has had
/// its `historical_update`.
pub type FetchResources = std::sync::Arc<BTreeMap<String, Vec<String>>>;

/// Whether every one of `expected` is ready among a link's fields (`res:<RESOURCE>` holding a
/// [`ResourceState`]); never for an empty list. As `resources_ready` in `outbox_add.lua`.
pub fn every_resource_ready(expected: &[String], field: impl Fn(&str) -> Option<String>) -> bool {
    !expected.is_empty()
        && expected.iter().all(|resource| {
            field(&format!("res:{resource}"))
                .and_then(|raw| serde_json::from_str::<ResourceState>(&raw).ok())
                .is_some_and(|state| state.status == Readiness::Ready)
        })
}

/// A Belvo-confirmed link, recorded as its owner's (API link creation, verified widget links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaim {
    pub owner: ExternalId,
    pub product: super::ids::ProductName,
    pub institution: String,
    /// The claiming session's funnel counter prefix ([`super::funnel::link_prefix`]), kept on
    /// the link (the first session's) so its own steps count under it; `None` for a link made
    /// through the API, which no session's funnel counts.
    pub funnel: Option<String>,
}

/// A link as the store knows it: whose it is, what its webhooks said, whether Belvo confirmed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkState {
    pub session: Option<super::ids::SessionId>,
    pub owner: Option<ExternalId>,
    /// Set once the link is confirmed and listed as its owner's.
    pub product: Option<super::ids::ProductName>,
    pub institution: Option<String>,
    /// The first external_id a webhook carried for this link.
    pub webhook_external_id: Option<String>,
    pub resources: BTreeMap<String, ResourceState>,
    /// `Some(true)` once Belvo's own record of the link matches the session.
    pub verified: Option<bool>,
    /// Webhooks refused because their external_id was not the link owner's.
    pub mismatches: u32,
    /// Its health (SPEC §11).
    pub health: super::health::LinkHealth,
    /// Its open-finance consent (SPEC §12; `br_ofda` links).
    pub consent: super::consent::LinkConsent,
}

/// How many of a link's latest webhook ids a store remembers to drop repeats (Belvo retries a
/// delivery within hours; a link gets a few webhooks a day at most). Bounded, so a long-lived
/// link does not grow without end.
pub const MAX_WEBHOOK_IDS: usize = 1000;

/// How many ids past [`MAX_WEBHOOK_IDS`] a store may hold before it drops the oldest: the ids are
/// trimmed back to the bound once every `WEBHOOK_IDS_SLACK + 1` webhooks rather than counted
/// at each one (issue 19), so a link remembers at least its latest `MAX_WEBHOOK_IDS` ids and at
/// most this many more.
pub const WEBHOOK_IDS_SLACK: usize = 100;

/// What recording a webhook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookApplied {
    /// Recorded; the session the link belongs to, when already known.
    Recorded {
        session: Option<super::ids::SessionId>,
        /// The link's consent needs something (expiring, expired, unavailable): a data webhook
        /// may end it (SPEC §12).
        consent_open: bool,
    },
    /// The same `webhook_id` was recorded before: nothing changed.
    Duplicate,
    /// The webhook's external_id is not the link owner's: kept in the timeline, not merged.
    Mismatch,
}

/// Whether a stored `consent` fact is one a data webhook may end (SPEC §12).
pub fn consent_open(stored: &str) -> bool {
    matches!(
        stored,
        "consent_expiring" | "consent_expired" | "unavailable"
    )
}

impl LinkState {
    /// Whether webhook data may be shown for this link (never merged across users).
    pub fn external_id_consistent(&self) -> bool {
        match (&self.owner, &self.webhook_external_id) {
            (Some(owner), Some(seen)) => owner.as_str() == seen,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: serde_json::Value) -> WebhookPayload {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn historical_update_from_the_guide_marks_the_resource_ready() {
        let p = payload(serde_json::json!({
            "webhook_id": "03d1ca0d62db4f769488265d141047b7",
            "webhook_type": "EMPLOYMENT_RECORDS",
            "process_type": "historical_update",
            "webhook_code": "historical_update",
            "link_id": "2f5d361d-dad6-45d4-a0bf-26d479766067",
            "request_id": "4363b08b-51eb-4350-9c74-5df5ac92a7f6",
            "external_id": "your_external_id",
            "data": {"total_employment_record_profiles": 1}
        }));
        let update = p.into_update(5).unwrap();
        let (resource, state) = update.resource.unwrap();
        assert_eq!(resource, "EMPLOYMENT_RECORDS");
        assert_eq!(state.status, Readiness::Ready);
        assert_eq!(state.total, Some(1));
    }

    #[test]
    fn error_webhooks_mark_the_resource_failed() {
        let p = payload(serde_json::json!({
            "webhook_id": "w1", "webhook_type": "OWNERS", "webhook_code": "historical_update",
            "link_id": "2f5d361d-dad6-45d4-a0bf-26d479766067",
            "data": {"error_code": "login_error", "error_message": "x"}
        }));
        let (_, state) = p.into_update(5).unwrap().resource.unwrap();
        assert_eq!(state.status, Readiness::Failed);
        assert_eq!(state.error_code.as_deref(), Some("login_error"));
    }

    #[test]
    fn link_webhooks_mark_no_resource_and_report_credentials() {
        let p = payload(serde_json::json!({
            "webhook_id": "w2", "webhook_type": "LINK", "webhook_code": "invalid_credentials",
            "process_type": "recurrent_update",
            "link_id": "2f5d361d-dad6-45d4-a0bf-26d479766067",
            "data": {"error_code": "login_error", "error_message": "Invalid credentials", "status": 400}
        }));
        let update = p.into_update(5).unwrap();
        assert!(update.resource.is_none());
        let problem = update.health.unwrap();
        assert_eq!(problem.code, "invalid_credentials");
        assert_eq!(problem.message.as_deref(), Some("Invalid credentials"));
    }

    #[test]
    fn malformed_payloads_do_not_parse() {
        for bad in [
            serde_json::json!({"webhook_id": "w", "webhook_type": "OWNERS", "webhook_code": "x", "link_id": "nope"}),
            serde_json::json!({"webhook_id": "<script>", "webhook_type": "OWNERS", "webhook_code": "x", "link_id": "2f5d361d-dad6-45d4-a0bf-26d479766067"}),
            serde_json::json!({"webhook_type": "OWNERS", "webhook_code": "x", "link_id": "2f5d361d-dad6-45d4-a0bf-26d479766067"}),
            serde_json::json!({"webhook_id": "w", "webhook_type": "OWNERS", "webhook_code": "x", "link_id": "2f5d361d-dad6-45d4-a0bf-26d479766067", "data": [1]}),
        ] {
            assert!(serde_json::from_value::<WebhookPayload>(bad).is_err());
        }
    }

    #[test]
    fn every_resource_ready_needs_each_one_ready() {
        let fields: std::collections::HashMap<String, String> = [
            ("res:EMPLOYMENTS", r#"{"status":"ready","total":2}"#),
            ("res:OWNERS", r#"{"status":"failed","total":null}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let field = |k: &str| fields.get(k).cloned();
        let list = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(every_resource_ready(&list(&["EMPLOYMENTS"]), field));
        assert!(!every_resource_ready(
            &list(&["EMPLOYMENTS", "OWNERS"]),
            field
        ));
        assert!(!every_resource_ready(
            &list(&["EMPLOYMENTS", "ACCOUNTS"]),
            field
        ));
        assert!(!every_resource_ready(&[], field));
    }
}
