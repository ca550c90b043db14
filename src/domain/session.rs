//! A widget session: what was opened for whom, and what the widget reported since.
//!
//! Stores keep a session as a flat map of string fields (a Redis hash); this module owns that
//! format and the rule that turns a callback event into a change of state, so the Redis script
//! and the in-memory store apply exactly the same thing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::callback::{CallbackEvent, Outcome};
use super::external_id::ExternalId;
use super::ids::{AccessMode, LinkId, Platform, ProductName, SessionId};

/// Unix time in milliseconds; what stores and the Redis script compare.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as Millis / 1_000_000
}

/// Formats unix milliseconds as RFC 3339 (UTC) for JSON and pages.
pub fn rfc3339(ms: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

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
pub enum Status {
    Pending,
    Succeeded,
    Exited,
    Failed,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl From<Outcome> for Status {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Succeeded => Self::Succeeded,
            Outcome::Exited => Self::Exited,
            Outcome::Failed => Self::Failed,
        }
    }
}

/// What is fixed when a session is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: SessionId,
    pub owner: ExternalId,
    pub product: ProductName,
    pub platform: Platform,
    pub institutions: Vec<String>,
    pub access_mode: AccessMode,
    pub created_at: Millis,
    /// When Belvo's widget access token expires (its `exp`).
    pub token_expires_at: Millis,
    /// After this, a session still pending is `expired` and refuses callbacks.
    pub deadline: Millis,
}

impl NewSession {
    /// The hash fields a store writes when the session is opened.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.to_string()),
            ("owner", self.owner.to_string()),
            ("product", self.product.to_string()),
            ("platform", self.platform.as_str().to_owned()),
            ("institutions", self.institutions.join(",")),
            ("access_mode", self.access_mode.as_str().to_owned()),
            ("created_at", self.created_at.to_string()),
            ("token_expires_at", self.token_expires_at.to_string()),
            ("deadline", self.deadline.to_string()),
            ("status", Status::Pending.as_str().to_owned()),
            ("updated_at", self.created_at.to_string()),
            ("event_count", "0".to_owned()),
            ("warnings", "[]".to_owned()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExitInfo {
    pub step: Option<String>,
    pub institution_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: String,
    pub message: Option<String>,
    pub at: Millis,
}

/// A session as read back from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub record: NewSession,
    /// The stored status; see [`Session::status_at`] for what to show.
    pub stored_status: Status,
    pub link_id: Option<LinkId>,
    pub institution: Option<String>,
    pub last_error: Option<ErrorInfo>,
    pub exit: Option<ExitInfo>,
    pub warnings: Vec<Warning>,
    pub updated_at: Millis,
    pub event_count: u32,
    pub replays: u32,
}

/// A stored session could not be read back: a bug or a foreign write, never user input.
#[derive(Debug, thiserror::Error)]
#[error("stored session is malformed: field `{0}`")]
pub struct CorruptSession(pub &'static str);

/// Every field [`Session::from_fields`] reads: stores fetch these and nothing else (the hash
/// also holds up to `MAX_EVENTS` dedupe markers that a read does not need).
pub const SESSION_FIELDS: &[&str] = &[
    "id",
    "owner",
    "product",
    "platform",
    "institutions",
    "access_mode",
    "created_at",
    "token_expires_at",
    "deadline",
    "status",
    "updated_at",
    "event_count",
    "warnings",
    "replays",
    "link_id",
    "institution",
    "error_code",
    "error_message",
    "exit_step",
    "exit_institution",
];

impl Session {
    pub fn from_fields(f: &HashMap<String, String>) -> Result<Self, CorruptSession> {
        Self::from_lookup(|k| f.get(k).map(String::as_str))
    }

    /// As [`Session::from_fields`], reading each field through `field` (a store may hold them
    /// in another shape than a map).
    pub fn from_lookup<'a>(
        field: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, CorruptSession> {
        let get = |k: &'static str| field(k).ok_or(CorruptSession(k));
        let opt = |k: &str| field(k).filter(|v| !v.is_empty()).map(str::to_owned);
        let num = |k: &'static str| get(k)?.parse::<i64>().map_err(|_| CorruptSession(k));
        let record = NewSession {
            id: SessionId::parse(get("id")?).map_err(|_| CorruptSession("id"))?,
            owner: ExternalId::parse(get("owner")?).ok_or(CorruptSession("owner"))?,
            product: ProductName::parse(get("product")?).map_err(|_| CorruptSession("product"))?,
            platform: get("platform")?
                .parse()
                .map_err(|_| CorruptSession("platform"))?,
            institutions: get("institutions")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            access_mode: get("access_mode")?.parse().unwrap_or(AccessMode::Single),
            created_at: num("created_at")?,
            token_expires_at: num("token_expires_at")?,
            deadline: num("deadline")?,
        };
        let error_code = opt("error_code");
        Ok(Self {
            record,
            stored_status: get("status")?
                .parse()
                .map_err(|_| CorruptSession("status"))?,
            link_id: opt("link_id").and_then(|l| LinkId::parse(&l).ok()),
            institution: opt("institution"),
            last_error: error_code.map(|code| ErrorInfo {
                code,
                message: opt("error_message"),
            }),
            exit: (opt("exit_step").is_some() || opt("exit_institution").is_some()).then(|| {
                ExitInfo {
                    step: opt("exit_step"),
                    institution_name: opt("exit_institution"),
                }
            }),
            warnings: serde_json::from_str(get("warnings")?)
                .map_err(|_| CorruptSession("warnings"))?,
            updated_at: num("updated_at")?,
            event_count: num("event_count")? as u32,
            replays: opt("replays").and_then(|r| r.parse().ok()).unwrap_or(0),
        })
    }

    /// The status to show at `now`: a pending session past its deadline has expired.
    pub fn status_at(&self, now: Millis) -> Status {
        if self.stored_status == Status::Pending && now > self.record.deadline {
            Status::Expired
        } else {
            self.stored_status
        }
    }
}

/// Everything a store needs to apply one callback event atomically.
#[derive(Debug, Clone)]
pub struct Transition {
    pub fingerprint: String,
    /// The terminal status this event sets on a pending session.
    pub outcome: Option<Status>,
    /// Fields written together with a terminal status (only when it applies).
    pub fields: Vec<(&'static str, String)>,
    /// A warning appended to the session's warnings (JSON object).
    pub warning: Option<String>,
    /// The timeline entry without its `effect` (a JSON object).
    pub timeline_entry: serde_json::Value,
    /// Link index to write when a success applies.
    pub link: Option<LinkId>,
    pub now: Millis,
}

/// The code a session fails with when its success names a link another user owns already.
pub const LINK_OWNED_ELSEWHERE: &str = "link_owned_elsewhere";
/// Its message (`apply_event.lua` writes the same text; the store suite holds them equal).
pub const LINK_OWNED_ELSEWHERE_MESSAGE: &str =
    "the link this success names belongs to another user: it was not given to this session";

/// The most timeline entries one session keeps; later distinct events still change state.
pub const MAX_EVENTS: u32 = 200;
/// The most warnings one session keeps.
pub const MAX_WARNINGS: usize = 50;

impl Transition {
    pub fn new(event: &CallbackEvent, source: &str, now: Millis) -> Self {
        let mut fields = Vec::new();
        let mut warning = None;
        let mut link = None;
        let text = |m: &Option<super::ids::Message>| {
            m.as_ref()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default()
        };
        match event {
            CallbackEvent::Success {
                link: l,
                institution,
            } => {
                fields.push(("link_id", l.to_string()));
                fields.push(("institution", institution.to_string()));
                link = Some(*l);
            }
            CallbackEvent::Exit {
                last_encountered_error_code,
                last_encountered_error_message,
                meta_data_institution_name,
                meta_data_step,
            } => {
                if let Some(code) = last_encountered_error_code {
                    fields.push(("error_code", code.to_string()));
                    fields.push(("error_message", text(last_encountered_error_message)));
                }
                if let Some(inst) = meta_data_institution_name {
                    fields.push(("exit_institution", inst.to_string()));
                    fields.push(("institution", inst.to_string()));
                }
                if let Some(step) = meta_data_step {
                    fields.push(("exit_step", step.to_string()));
                }
            }
            CallbackEvent::Error {
                error,
                error_message,
            } => {
                fields.push(("error_code", error.to_string()));
                fields.push(("error_message", text(error_message)));
            }
            CallbackEvent::Warning {
                warning: code,
                warning_message,
            } => {
                let w = Warning {
                    code: code.to_string(),
                    message: warning_message.as_ref().map(|m| m.as_str().to_owned()),
                    at: now,
                };
                warning = Some(serde_json::to_string(&w).expect("warnings serialise"));
            }
        }
        let mut timeline_entry = serde_json::to_value(event).expect("events serialise");
        timeline_entry["at"] = now.into();
        timeline_entry["source"] = source.into();
        Self {
            fingerprint: event.fingerprint(),
            outcome: event.outcome().map(Status::from),
            fields,
            warning,
            timeline_entry,
            link,
            now,
        }
    }
}

impl Transition {
    /// This success as what it becomes when another user owns its link: the session fails
    /// with [`LINK_OWNED_ELSEWHERE`], and no link is recorded or claimed.
    pub fn owned_elsewhere(&self) -> Self {
        Self {
            outcome: Some(Status::Failed),
            fields: vec![
                ("error_code", LINK_OWNED_ELSEWHERE.to_owned()),
                ("error_message", LINK_OWNED_ELSEWHERE_MESSAGE.to_owned()),
            ],
            link: None,
            ..self.clone()
        }
    }
}

/// What applying a transition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// No such session (never existed, or its record expired).
    Missing,
    /// Still pending past its deadline: refused, nothing recorded.
    Expired,
    /// The same event was seen before: counted once, nothing changed.
    Replay { status: Status, platform: Platform },
    /// Recorded in the timeline; `changed` tells whether it changed the session's state.
    Recorded {
        status: Status,
        platform: Platform,
        changed: bool,
    },
}

impl Applied {
    /// The session's status and platform after the event, when the session could take it.
    pub fn state(&self) -> Option<(Status, Platform)> {
        match *self {
            Self::Replay { status, platform }
            | Self::Recorded {
                status, platform, ..
            } => Some((status, platform)),
            Self::Missing | Self::Expired => None,
        }
    }
}
