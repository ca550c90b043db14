//! Institution health (SPEC §14): what Belvo's status page says of an institution, what this
//! server saw the widget report (`institution_down` exits, `institution_disabled` warnings in a
//! sliding window), and the one status an app is shown: the worse of the two.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use super::callback::CallbackEvent;
use super::session::Millis;

/// An institution's health, best first (the derived order makes `max` the worse).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum InstitutionStatus {
    Operational,
    Degraded,
    Down,
}

impl InstitutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }

    /// A statuspage.io component status: `operational`, `degraded_performance`,
    /// `partial_outage`, `major_outage`, `under_maintenance`. Anything else is refused.
    pub fn from_component(raw: &str) -> Option<Self> {
        match raw {
            "operational" => Some(Self::Operational),
            "degraded_performance" | "partial_outage" => Some(Self::Degraded),
            "major_outage" | "under_maintenance" => Some(Self::Down),
            _ => None,
        }
    }
}

/// One component's status as the status page reported it, stored per institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub status: InstitutionStatus,
    /// When the status page's component took this status (kept while reports repeat it).
    pub since: Millis,
    /// When the status page sent the latest report (older ones arriving late are ignored).
    pub at: Millis,
    /// The status page's component name.
    pub component: String,
    /// The incident it came with, if any (`incident.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

/// A component status taken from a status-page webhook, not yet mapped to an institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentReport {
    pub component: String,
    pub status: InstitutionStatus,
    pub at: Millis,
    pub incident: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusWebhookError {
    #[error("the body is neither a component_update (component, component_update) nor an incident with components")]
    NoComponents,
    #[error("component {0:?}: unknown status {1:?} (operational, degraded_performance, partial_outage, major_outage, under_maintenance)")]
    UnknownStatus(String, String),
    #[error("component names are 1 to 200 characters")]
    ComponentName,
    #[error("{0}: not an RFC 3339 time")]
    Time(&'static str),
}

/// The parts of statuspage.io's webhook body this server reads; the rest (`meta`, `page`,
/// `incident_updates`, ...) is ignored. Two shapes: a component update
/// (`component_update` + `component`) or an incident (`incident` with its `components`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusWebhook {
    #[serde(default)]
    component_update: Option<ComponentUpdate>,
    #[serde(default)]
    component: Option<Component>,
    #[serde(default)]
    incident: Option<Incident>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ComponentUpdate {
    /// When the component changed (RFC 3339).
    created_at: String,
    new_status: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct Component {
    name: String,
    status: String,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct Incident {
    name: String,
    /// investigating, identified, monitoring, resolved, ...
    #[serde(default)]
    status: Option<String>,
    updated_at: String,
    #[serde(default)]
    components: Vec<Component>,
}

const MAX_COMPONENT_NAME: usize = 200;

impl StatusWebhook {
    /// Every component status the webhook reports. A resolved incident names its components
    /// with their status at resolution (statuspage sends them back to `operational`).
    pub fn reports(&self) -> Result<Vec<ComponentReport>, StatusWebhookError> {
        let mut reports = Vec::new();
        if let (Some(update), Some(component)) = (&self.component_update, &self.component) {
            let at = parse_time(&update.created_at, "component_update.created_at")?;
            reports.push(report(&component.name, &update.new_status, at, None)?);
        } else if let Some(incident) = &self.incident {
            let at = parse_time(&incident.updated_at, "incident.updated_at")?;
            let name = Some(incident.name.chars().take(200).collect::<String>());
            for component in &incident.components {
                let at = match &component.updated_at {
                    Some(raw) => parse_time(raw, "incident.components[].updated_at")?.max(at),
                    None => at,
                };
                let resolved = incident.status.as_deref() == Some("resolved");
                let incident = if resolved { None } else { name.clone() };
                reports.push(report(&component.name, &component.status, at, incident)?);
            }
        }
        if reports.is_empty() {
            return Err(StatusWebhookError::NoComponents);
        }
        Ok(reports)
    }
}

fn report(
    name: &str,
    status: &str,
    at: Millis,
    incident: Option<String>,
) -> Result<ComponentReport, StatusWebhookError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_COMPONENT_NAME {
        return Err(StatusWebhookError::ComponentName);
    }
    let status = InstitutionStatus::from_component(status)
        .ok_or_else(|| StatusWebhookError::UnknownStatus(name.to_owned(), status.to_owned()))?;
    Ok(ComponentReport {
        component: name.to_owned(),
        status,
        at,
        incident,
    })
}

fn parse_time(raw: &str, what: &'static str) -> Result<Millis, StatusWebhookError> {
    let t =
        time::OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| StatusWebhookError::Time(what))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// What a widget event says of an institution's health: `institution_down` exits name their
/// institution; `institution_disabled` warnings do not (the caller finds it from the session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WidgetSignal {
    /// An exit with `last_encountered_error_code=institution_down` naming this institution.
    Down(String),
    /// A warning `institution_disabled`: the institution is the session's, if it has one.
    Disabled,
}

impl WidgetSignal {
    pub fn of(event: &CallbackEvent) -> Option<Self> {
        match event {
            CallbackEvent::Exit {
                last_encountered_error_code: Some(code),
                meta_data_institution_name: Some(institution),
                ..
            } if code.as_str() == "institution_down" => {
                Some(Self::Down(institution.as_str().to_owned()))
            }
            CallbackEvent::Warning { warning, .. }
                if warning.as_str() == "institution_disabled" =>
            {
                Some(Self::Disabled)
            }
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Down(_) => "down",
            Self::Disabled => "disabled",
        }
    }
}

/// The window's verdict: `degraded` once `threshold` signals fall in the window, since the
/// signal that reached it (`times` ascending, all inside the window).
pub fn window_status(times: &[Millis], threshold: u32) -> Option<Millis> {
    let threshold = threshold.max(1) as usize;
    (times.len() >= threshold).then(|| times[times.len() - threshold])
}

/// One institution's health as shown: the worse of the status page and the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionHealth {
    pub code: String,
    pub status: InstitutionStatus,
    /// When it took this status; none while operational with nothing reported.
    pub since: Option<Millis>,
    /// What the status page reported, if anything.
    pub page: Option<StatusReport>,
    /// Signals from the widget inside the window.
    pub signals: usize,
    /// Whether the window alone makes it degraded.
    pub window_degraded: bool,
}

impl InstitutionHealth {
    pub fn combine(
        code: &str,
        page: Option<StatusReport>,
        times: &[Millis],
        threshold: u32,
    ) -> Self {
        let window = window_status(times, threshold);
        let from_page = page.as_ref().map(|p| (p.status, p.since));
        let from_window = window.map(|since| (InstitutionStatus::Degraded, since));
        let (status, since) = match (from_page, from_window) {
            (Some(p), Some(w)) if w.0 > p.0 => (w.0, Some(w.1)),
            (Some(p), _) if p.0 != InstitutionStatus::Operational => (p.0, Some(p.1)),
            (_, Some(w)) => (w.0, Some(w.1)),
            (Some(p), None) => (p.0, Some(p.1)),
            (None, None) => (InstitutionStatus::Operational, None),
        };
        Self {
            code: code.to_owned(),
            status,
            since,
            page,
            signals: times.len(),
            window_degraded: window.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(json: serde_json::Value) -> StatusWebhook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_component_update_reports_its_new_status_at_its_time() {
        let hook = webhook(serde_json::json!({
            "meta": {"unsubscribe": "x"}, "page": {"id": "p"},
            "component_update": {"created_at": "2026-11-29T10:00:00Z", "new_status": "major_outage",
                                 "old_status": "operational", "id": "u", "component_id": "c"},
            "component": {"created_at": "2020-01-01T00:00:00Z", "id": "c", "name": "imss_mx_employment",
                          "status": "major_outage"}
        }));
        let reports = hook.reports().unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].component, "imss_mx_employment");
        assert_eq!(reports[0].status, InstitutionStatus::Down);
        assert_eq!(reports[0].at, 1_795_946_400_000);
    }

    #[test]
    fn an_incident_reports_each_component_and_a_resolved_one_drops_the_incident() {
        let open = webhook(serde_json::json!({"incident": {
            "name": "IMSS slow", "status": "investigating", "updated_at": "2026-11-29T10:00:00Z",
            "components": [{"name": "IMSS", "status": "partial_outage"},
                           {"name": "ISSSTE", "status": "operational"}]}}));
        let reports = open.reports().unwrap();
        assert_eq!(reports[0].status, InstitutionStatus::Degraded);
        assert_eq!(reports[0].incident.as_deref(), Some("IMSS slow"));
        assert_eq!(reports[1].status, InstitutionStatus::Operational);
        let resolved = webhook(serde_json::json!({"incident": {
            "name": "IMSS slow", "status": "resolved", "updated_at": "2026-11-29T11:00:00Z",
            "components": [{"name": "IMSS", "status": "operational"}]}}));
        assert_eq!(resolved.reports().unwrap()[0].incident, None);
    }

    #[test]
    fn bodies_without_components_or_with_unknown_statuses_are_refused() {
        let empty = webhook(serde_json::json!({"page": {"id": "p"}}));
        assert_eq!(empty.reports(), Err(StatusWebhookError::NoComponents));
        let unknown = webhook(serde_json::json!({
            "component_update": {"created_at": "2026-11-29T10:00:00Z", "new_status": "on_fire"},
            "component": {"name": "IMSS", "status": "on_fire"}}));
        assert!(matches!(
            unknown.reports(),
            Err(StatusWebhookError::UnknownStatus(..))
        ));
        let bad_time = webhook(serde_json::json!({
            "component_update": {"created_at": "yesterday", "new_status": "operational"},
            "component": {"name": "IMSS", "status": "operational"}}));
        assert!(matches!(
            bad_time.reports(),
            Err(StatusWebhookError::Time(_))
        ));
    }

    #[test]
    fn the_window_degrades_at_the_threshold_since_the_signal_that_reached_it() {
        assert_eq!(window_status(&[10, 20], 3), None);
        assert_eq!(window_status(&[10, 20, 30], 3), Some(10));
        assert_eq!(window_status(&[10, 20, 30, 40], 3), Some(20));
    }

    #[test]
    fn the_worse_source_wins() {
        let page = |status| StatusReport {
            status,
            since: 5,
            at: 6,
            component: "IMSS".into(),
            incident: None,
        };
        let down =
            InstitutionHealth::combine("imss", Some(page(InstitutionStatus::Down)), &[1, 2, 3], 3);
        assert_eq!(
            (down.status, down.since),
            (InstitutionStatus::Down, Some(5))
        );
        let ok = InstitutionHealth::combine(
            "imss",
            Some(page(InstitutionStatus::Operational)),
            &[1, 2, 3],
            3,
        );
        assert_eq!(
            (ok.status, ok.since),
            (InstitutionStatus::Degraded, Some(1))
        );
        let quiet = InstitutionHealth::combine("imss", None, &[1], 3);
        assert_eq!(
            (quiet.status, quiet.since),
            (InstitutionStatus::Operational, None)
        );
    }
}
