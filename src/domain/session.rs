//! A widget session: what was opened for whom, and what the widget reported since.
//!
//! This module owns the rule that turns a callback event into a change of state (a
//! [`Transition`]), so the Redis script and the in-memory store apply exactly the same thing;
//! how a store keeps a session is the store's own business (`store/codec/`).

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

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
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

/// Why a session was opened: to connect a new link, or to repair one in Belvo's update mode.
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
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum SessionMode {
    #[default]
    Connect,
    Update,
}

impl SessionMode {
    pub fn as_str(self) -> &'static str {
        self.into()
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
    /// The widget's language, as the app asked (`es`, `en`, `pt`, `mx`); none: the product's.
    pub locale: Option<String>,
    pub mode: SessionMode,
    /// In update mode, the link being repaired (known from the start).
    pub update_link: Option<LinkId>,
    /// The widget's current access token: written when the session is opened, read back only
    /// by `/w/` (status reads never load it).
    pub token: Option<AccessToken>,
    /// The app's own user id, kept only for outbound events that carry it (never read back).
    pub sub: Option<super::event::AppSub>,
}

/// Belvo's widget access token: kept so `/w/` can reuse it, never shown or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(pub String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

/// What `/w/{id}` finds.
#[derive(Debug, Clone)]
pub enum WidgetOpening {
    Missing,
    /// Finished, or still pending past its deadline: nothing was counted.
    Closed(Session),
    /// Counted as an opening, its event fingerprints forgotten; `session.record.token` is the
    /// current token.
    Open(Session),
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
    /// When `widget_url` was first opened, and how often.
    pub opened_at: Option<Millis>,
    pub opens: u32,
}

impl Session {
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
    /// What is recorded together with a terminal status (only when it applies).
    pub details: Details,
    /// A warning appended to the session's warnings.
    pub warning: Option<Warning>,
    /// The timeline entry without its `effect` (a JSON object).
    pub timeline_entry: serde_json::Value,
    /// The link a success names: recorded on the session and indexed when it applies.
    pub link: Option<LinkId>,
    pub now: Millis,
    /// Whether a terminal change also writes its outbound event to the outbox (SPEC §13): only
    /// when an endpoint is configured.
    pub emit: bool,
    /// The funnel step the first terminal effect counts (SPEC §14); `None` counts nothing.
    pub funnel: Option<super::funnel::TerminalStep>,
}

/// What a terminal event records on its session besides its status and link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// The institution connected to (success) or left (exit).
    pub institution: Option<String>,
    pub error: Option<ErrorInfo>,
    pub exit: Option<ExitInfo>,
}

/// The code a session fails with when its success names a link another user owns already.
pub const LINK_OWNED_ELSEWHERE: &str = "link_owned_elsewhere";
/// Its message (`apply_event.lua` writes the same text; the store suite holds them equal).
pub const LINK_OWNED_ELSEWHERE_MESSAGE: &str =
    "the link this success names belongs to another user: it was not given to this session";

/// Belvo's code for a widget opened with an expired (or used) access token.
pub const ACCESS_TOKEN_NOT_VALID: &str = "ACCESS_TOKEN_NOT_VALID";

/// The code an update-mode session fails with when its success names another link than the one
/// it repairs (SPEC §11); no link changes.
pub const LINK_MISMATCH: &str = "link_mismatch";
/// Its message (`apply_event.lua` writes the same text; the store suite holds them equal).
pub const LINK_MISMATCH_MESSAGE: &str =
    "the widget reconnected another link than the one this session repairs: no link was changed";

/// The most timeline entries one session keeps; later distinct events still change state.
pub const MAX_EVENTS: u32 = 200;
/// The most warnings one session keeps.
pub const MAX_WARNINGS: usize = 50;

impl Transition {
    pub fn new(event: &CallbackEvent, source: &str, now: Millis) -> Self {
        let mut details = Details::default();
        let mut warning = None;
        let mut link = None;
        let text = |m: &Option<super::ids::Message>| m.as_ref().map(|m| m.as_str().to_owned());
        match event {
            CallbackEvent::Success {
                link: l,
                institution,
            } => {
                details.institution = Some(institution.to_string());
                link = Some(*l);
            }
            CallbackEvent::Exit {
                last_encountered_error_code,
                last_encountered_error_message,
                meta_data_institution_name,
                meta_data_step,
            } => {
                details.error = last_encountered_error_code.as_ref().map(|code| ErrorInfo {
                    code: code.to_string(),
                    message: text(last_encountered_error_message),
                });
                let institution_name = meta_data_institution_name.as_ref().map(|i| i.to_string());
                let step = meta_data_step.as_ref().map(|s| s.to_string());
                details.institution = institution_name.clone();
                if institution_name.is_some() || step.is_some() {
                    details.exit = Some(ExitInfo {
                        step,
                        institution_name,
                    });
                }
            }
            CallbackEvent::Error {
                error,
                error_message,
            } => {
                details.error = Some(ErrorInfo {
                    code: error.to_string(),
                    message: text(error_message),
                });
            }
            CallbackEvent::Warning {
                warning: code,
                warning_message,
            } => {
                warning = Some(Warning {
                    code: code.to_string(),
                    message: text(warning_message),
                    at: now,
                });
            }
        }
        let mut timeline_entry = serde_json::to_value(event).expect("events serialise");
        timeline_entry["at"] = now.into();
        timeline_entry["source"] = source.into();
        // With `/w/` the widget can be reopened with a fresh token: an expired token is the
        // session's last error, not its end (SPEC §11).
        let token_expired = details
            .error
            .as_ref()
            .is_some_and(|e| e.code == ACCESS_TOKEN_NOT_VALID);
        Self {
            fingerprint: event.fingerprint(),
            outcome: event.outcome().map(Status::from).filter(|_| !token_expired),
            details,
            warning,
            timeline_entry,
            link,
            now,
            emit: false,
            funnel: None,
        }
    }
}

impl Transition {
    /// This success as what it becomes when another user owns its link: the session fails
    /// with [`LINK_OWNED_ELSEWHERE`], and no link is recorded or claimed.
    pub fn owned_elsewhere(&self) -> Self {
        self.refused_success(LINK_OWNED_ELSEWHERE, LINK_OWNED_ELSEWHERE_MESSAGE)
    }

    /// This success as what it becomes in an update-mode session that repairs another link:
    /// the session fails with [`LINK_MISMATCH`], and no link is recorded or claimed.
    pub fn mismatched(&self) -> Self {
        self.refused_success(LINK_MISMATCH, LINK_MISMATCH_MESSAGE)
    }

    /// This success refused: the session fails with `code`, and no link is recorded or claimed.
    fn refused_success(&self, code: &str, message: &str) -> Self {
        Self {
            outcome: Some(Status::Failed),
            details: Details {
                error: Some(ErrorInfo {
                    code: code.to_owned(),
                    message: Some(message.to_owned()),
                }),
                ..Details::default()
            },
            link: None,
            funnel: self.funnel.as_ref().map(|f| f.refused(code)),
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
