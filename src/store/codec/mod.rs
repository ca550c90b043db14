//! How sessions and links are kept as Redis hashes (and as the memory store's field maps, the
//! same shape): every field name lives here, so the domain knows none. The format is the one
//! stored since stage 1; existing records read the same.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::domain::consent::{ConsentState, LinkConsent};
use crate::domain::external_id::ExternalId;
use crate::domain::health::{Health, HealthReason, LinkHealth};
use crate::domain::ids::{AccessMode, LinkId, Platform, ProductName, SessionId};
use crate::domain::session::{
    AccessToken, ErrorInfo, ExitInfo, NewSession, Session, SessionMode, Status, Transition, Warning,
};
use crate::domain::webhook::LinkState;

mod token;
pub use token::{decode_widget_token, encode_widget_token, CorruptToken};

/// A stored session could not be read back: a bug or a foreign write, never user input.
#[derive(Debug, thiserror::Error)]
#[error("stored session is malformed: field `{0}`")]
pub struct CorruptSession(pub &'static str);

/// Every field [`session_from_lookup`] reads. The hash also holds up to `MAX_EVENTS` dedupe
/// markers (`seen:<fingerprint>`) that a read does not need; [`session_from_pairs`] skips them.
pub(super) const SESSION_FIELDS: &[&str] = &[
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
    "locale",
    "mode",
    "opened_at",
    "opens",
];

/// The funnel field a new session counts (`created`: no institution chosen yet).
pub(super) fn created_funnel_field(s: &NewSession) -> String {
    crate::domain::funnel::field(
        s.product.as_str(),
        s.platform.as_str(),
        s.mode.as_str(),
        crate::domain::funnel::NO_INSTITUTION,
        "created",
    )
}

/// The hash fields a store writes when the session is opened. The widget token is not one of
/// them: a store keeps it apart ([`Keys::widget_token`](super::keys::Keys::widget_token) on
/// Redis), since any value over Redis's `hash-max-listpack-value` (64 bytes) turns the whole
/// hash from a compact listpack into a hashtable, and the token is ~700 bytes. Fields equal to
/// what a reader takes their absence for are not written either: `updated_at` (absent: the
/// creation time) and `mode` (absent: `connect`, as sessions written before update mode).
pub(super) fn new_session_fields(s: &NewSession) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", s.id.to_string()),
        ("owner", s.owner.to_string()),
        ("product", s.product.to_string()),
        ("platform", s.platform.as_str().to_owned()),
        ("institutions", s.institutions.join(",")),
        ("access_mode", s.access_mode.as_str().to_owned()),
        ("created_at", s.created_at.to_string()),
        ("token_expires_at", s.token_expires_at.to_string()),
        ("deadline", s.deadline.to_string()),
        ("status", Status::Pending.as_str().to_owned()),
        ("event_count", "0".to_owned()),
        ("warnings", "[]".to_owned()),
    ];
    if s.mode != SessionMode::default() {
        fields.push(("mode", s.mode.as_str().to_owned()));
    }
    if let Some(locale) = &s.locale {
        fields.push(("locale", locale.clone()));
    }
    if let Some(link) = s.update_link {
        fields.push(("link_id", link.to_string()));
    }
    if let Some(sub) = &s.sub {
        fields.push(("sub", sub.0.clone()));
    }
    fields
}

/// The field of the session hash that held the widget token before it had a key of its own:
/// still read (and removed when the token is renewed), so an upgrade loses no token.
pub(super) const LEGACY_TOKEN_FIELD: &str = "token";

/// A session from its field map (the memory store's shape).
pub(super) fn session_from_fields(f: &HashMap<String, String>) -> Result<Session, CorruptSession> {
    session_from_lookup(|k| f.get(k).map(String::as_str))
}

/// A session from the values of [`SESSION_FIELDS`], in that order (an HMGET's answer); `None`
/// when it has none (unknown or expired).
pub(super) fn session_from_values(
    values: &[Option<String>],
) -> Result<Option<Session>, CorruptSession> {
    session_from_named(SESSION_FIELDS, values)
}

/// A session from its hash's field-value pairs in any order (an HGETALL's answer, as bytes);
/// `None` when there are none (unknown or expired). Other fields (the dedupe markers, the
/// legacy widget token) are skipped without being decoded.
pub(super) fn session_from_pairs(
    pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<Option<Session>, CorruptSession> {
    let mut values = vec![None; SESSION_FIELDS.len()];
    for (name, value) in pairs {
        let Some(at) = SESSION_FIELDS.iter().position(|f| f.as_bytes() == name) else {
            continue;
        };
        values[at] =
            Some(String::from_utf8(value).map_err(|_| CorruptSession(SESSION_FIELDS[at]))?);
    }
    session_from_values(&values)
}

/// An `HGETALL` reply's field-value pairs, taken out of the reply without copying (RESP2's flat
/// array or RESP3's map). Cheaper than redis-rs's `FromRedisValue` for a `Vec` of tuples, which
/// checks and converts value by value (about 4 % of a status read's instructions, issue 19).
/// Anything but bulk strings, which `HGETALL` never answers, is left out.
pub(super) fn hash_pairs(reply: redis::Value) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    fn bytes(value: redis::Value) -> Option<Vec<u8>> {
        match value {
            redis::Value::BulkString(bytes) => Some(bytes),
            _ => None,
        }
    }
    let items = match reply {
        redis::Value::Array(items) => items,
        // RESP3's map, flattened as RESP2 answers (the values moved, not copied).
        redis::Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    };
    let mut items = items.into_iter();
    std::iter::from_fn(move || Some((items.next()?, items.next()?)))
        .filter_map(|(name, value)| Some((bytes(name)?, bytes(value)?)))
}

/// A link's hash from an `HGETALL` reply ([`hash_pairs`]); `None` when it has no fields.
pub(super) fn link_from_reply(reply: redis::Value) -> Option<LinkState> {
    let fields: Vec<(String, String)> = hash_pairs(reply)
        .filter_map(|(name, value)| {
            Some((
                String::from_utf8(name).ok()?,
                String::from_utf8(value).ok()?,
            ))
        })
        .collect();
    (!fields.is_empty()).then(|| link_from_pairs(&fields))
}

/// What `/w/` reads with the opening (`open_widget.lua`): the fields opening the widget, renewing
/// its token and showing a closed session's page need; 13 of the hash's fields, not all 24.
/// The script answers the token after them (from its own key, else the legacy hash field).
const WIDGET_FIELDS: &[&str] = &[
    "id",
    "owner",
    "product",
    "institutions",
    "access_mode",
    "token_expires_at",
    "deadline",
    "status",
    "link_id",
    "locale",
    "mode",
    "opened_at",
    "opens",
];

pub(super) fn widget_fields() -> impl Iterator<Item = &'static str> {
    WIDGET_FIELDS.iter().copied()
}

/// A session from the values of [`widget_fields`], in that order, then its token as stored
/// (see [`decode_widget_token`]). The fields `/w/` does not read stand at neutral values (see
/// [`partial_session`]): the session it returns serves opening the widget only.
pub(super) fn widget_session_from_values(
    values: Vec<Option<Vec<u8>>>,
) -> Result<Option<Session>, CorruptSession> {
    let mut values = values.into_iter();
    let fields = values
        .by_ref()
        .take(WIDGET_FIELDS.len())
        .zip(WIDGET_FIELDS)
        .map(|(value, name)| {
            value
                .map(|v| String::from_utf8(v).map_err(|_| CorruptSession(name)))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let token = values
        .next()
        .flatten()
        .map(|stored| decode_widget_token(&stored).map_err(|_| CorruptSession("token")))
        .transpose()?;
    partial_session(WIDGET_FIELDS, &fields).map(|s| s.map(|s| with_token(s, token)))
}

/// What a link's verification reads of its session: whose it is, and what the link's funnel
/// steps count under (product, platform, mode, institution); 7 of the hash's fields.
pub(super) const VERIFY_FIELDS: &[&str] = &[
    "id",
    "owner",
    "product",
    "platform",
    "status",
    "institution",
    "mode",
];

/// A session from the values of [`VERIFY_FIELDS`], in that order; the fields a verification
/// does not read stand at neutral values (see [`partial_session`]).
pub(super) fn verify_session_from_values(
    values: &[Option<String>],
) -> Result<Option<Session>, CorruptSession> {
    partial_session(VERIFY_FIELDS, values)
}

/// A session from the values of `names` (some of the hash's fields), the others at neutral
/// values: platform `web`, times 0, no institutions, events or warnings, single access.
fn partial_session(
    names: &[&str],
    values: &[Option<String>],
) -> Result<Option<Session>, CorruptSession> {
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let field = |name: &str| match names.iter().position(|f| *f == name) {
        Some(at) => values.get(at)?.as_deref(),
        None => match name {
            "platform" => Some("web"),
            "created_at" | "token_expires_at" | "deadline" | "updated_at" | "event_count" => {
                Some("0")
            }
            "institutions" => Some(""),
            "access_mode" => Some("single"),
            "warnings" => Some("[]"),
            _ => None,
        },
    };
    session_from_lookup(field).map(Some)
}

/// The session with its widget token, which only `/w/` reads.
pub(super) fn with_token(mut session: Session, token: Option<String>) -> Session {
    session.record.token = token.map(AccessToken);
    session
}

fn session_from_named(
    names: &[&str],
    values: &[Option<String>],
) -> Result<Option<Session>, CorruptSession> {
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    // Fields are looked up in about the order `names` lists them: each search starts after the
    // last field found (and wraps around), so a read costs one comparison per field, not a scan.
    let next = std::cell::Cell::new(0);
    let field = |name: &str| {
        let start = next.get().min(names.len());
        let at = (start..names.len())
            .chain(0..start)
            .find(|&i| names[i] == name)?;
        next.set(at + 1);
        values.get(at)?.as_deref()
    };
    session_from_lookup(field).map(Some)
}

/// A session, reading each field through `field`.
fn session_from_lookup<'a>(
    field: impl Fn(&str) -> Option<&'a str>,
) -> Result<Session, CorruptSession> {
    let get = |k: &'static str| field(k).ok_or(CorruptSession(k));
    let opt = |k: &str| field(k).filter(|v| !v.is_empty()).map(str::to_owned);
    let num = |k: &'static str| get(k)?.parse::<i64>().map_err(|_| CorruptSession(k));
    let record = NewSession {
        id: SessionId::parse(get("id")?).map_err(|_| CorruptSession("id"))?,
        owner: ExternalId::parse(get("owner")?).ok_or(CorruptSession("owner"))?,
        product: ProductName::parse(get("product")?).map_err(|_| CorruptSession("product"))?,
        platform: get("platform")?
            .parse::<Platform>()
            .map_err(|_| CorruptSession("platform"))?,
        institutions: get("institutions")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        access_mode: match get("access_mode")? {
            "recurrent" => AccessMode::Recurrent,
            _ => AccessMode::Single,
        },
        created_at: num("created_at")?,
        token_expires_at: num("token_expires_at")?,
        deadline: num("deadline")?,
        locale: opt("locale"),
        // Sessions written before update mode existed were all connections.
        mode: opt("mode")
            .map(|m| m.parse().map_err(|_| CorruptSession("mode")))
            .transpose()?
            .unwrap_or_default(),
        update_link: None,
        // Read by `/w/` only (`with_token`).
        token: None,
        // Read by `apply_event.lua` only, for outbound events.
        sub: None,
    };
    let update_link = match record.mode {
        SessionMode::Update => opt("link_id").and_then(|l| LinkId::parse(&l).ok()),
        SessionMode::Connect => None,
    };
    let record = NewSession {
        update_link,
        ..record
    };
    let error_code = opt("error_code");
    // Not written until the session first changes: it was last updated when created.
    let updated_at = match field("updated_at") {
        Some(_) => num("updated_at")?,
        None => record.created_at,
    };
    Ok(Session {
        record,
        stored_status: Status::parse(get("status")?).ok_or(CorruptSession("status"))?,
        link_id: opt("link_id").and_then(|l| LinkId::parse(&l).ok()),
        institution: opt("institution"),
        last_error: error_code.map(|code| ErrorInfo {
            code,
            message: opt("error_message"),
        }),
        exit: (opt("exit_step").is_some() || opt("exit_institution").is_some()).then(|| ExitInfo {
            step: opt("exit_step"),
            institution_name: opt("exit_institution"),
        }),
        warnings: serde_json::from_str(get("warnings")?).map_err(|_| CorruptSession("warnings"))?,
        updated_at,
        event_count: num("event_count")? as u32,
        replays: opt("replays").and_then(|r| r.parse().ok()).unwrap_or(0),
        opened_at: opt("opened_at").and_then(|t| t.parse().ok()),
        opens: opt("opens").and_then(|n| n.parse().ok()).unwrap_or(0),
    })
}

/// `value` as compact JSON text, written straight into the string: `Value`'s `Display` (its
/// `to_string`) gives the same bytes through `fmt::Formatter`, about twice the instructions (a
/// timeline entry: 6 % of a webhook's, issue 19).
pub(super) fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("a JSON value always serialises: its keys are strings")
}

/// A timeline entry as the scripts store it: the event's JSON object with `"effect":"<effect>"`
/// as its last field, byte for byte as entries were always stored (`apply_event.lua`'s
/// `with_effect`). `None` for anything but a non-empty object, which the scripts refuse.
pub(super) fn entry_with_effect(entry: &serde_json::Value, effect: &str) -> Option<String> {
    if entry.as_object().is_none_or(|o| o.is_empty()) {
        return None;
    }
    let mut text = json_text(entry);
    text.pop();
    text.push_str(",\"effect\":\"");
    text.push_str(effect);
    text.push_str("\"}");
    Some(text)
}

/// The fields a transition's terminal status is written with (only when it applies), as
/// `(field, value)` pairs; `apply_event.lua` takes them as they are.
pub(super) fn terminal_fields(t: &Transition) -> Vec<(&'static str, Cow<'_, str>)> {
    let mut fields = Vec::with_capacity(6);
    let d = &t.details;
    if let Some(link) = t.link {
        fields.push(("link_id", Cow::Owned(link.to_string())));
    }
    if let Some(error) = &d.error {
        fields.push(("error_code", Cow::Borrowed(error.code.as_str())));
        let message = error.message.as_deref().unwrap_or_default();
        fields.push(("error_message", Cow::Borrowed(message)));
    }
    if let Some(name) = d.exit.as_ref().and_then(|e| e.institution_name.as_deref()) {
        fields.push(("exit_institution", Cow::Borrowed(name)));
    }
    if let Some(institution) = &d.institution {
        fields.push(("institution", Cow::Borrowed(institution.as_str())));
    }
    if let Some(step) = d.exit.as_ref().and_then(|e| e.step.as_deref()) {
        fields.push(("exit_step", Cow::Borrowed(step)));
    }
    fields
}

/// A warning as it is appended to the session's `warnings` field (a JSON array).
pub(super) fn warning_json(w: &Warning) -> String {
    serde_json::to_string(w).expect("warnings serialise")
}

/// Reads the link hash (fields `session`, `owner`, `res:<RESOURCE>`, ...).
pub(super) fn link_from_fields(fields: &HashMap<String, String>) -> LinkState {
    link_from_lookup(
        |k| fields.get(k).map(String::as_str),
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// Reads the link hash from its field-value pairs in any order (an HGETALL's answer): a link
/// has a dozen fields, so finding each by a scan costs less than building a map of them.
pub(super) fn link_from_pairs(pairs: &[(String, String)]) -> LinkState {
    link_from_lookup(
        |k| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        },
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// A link from a lookup of its fields by name, and every field (for its `res:` ones).
fn link_from_lookup<'a>(
    field: impl Fn(&str) -> Option<&'a str>,
    all: impl Iterator<Item = (&'a str, &'a str)>,
) -> LinkState {
    let get = |k: &str| field(k).filter(|v| !v.is_empty());
    let millis = |k: &str| get(k).and_then(|v| v.parse().ok());
    LinkState {
        session: get("session").and_then(|s| SessionId::parse(s).ok()),
        owner: get("owner").and_then(ExternalId::parse),
        product: get("product").and_then(|p| ProductName::parse(p).ok()),
        institution: get("institution").map(str::to_owned),
        webhook_external_id: get("webhook_external_id").map(str::to_owned),
        resources: all
            .filter_map(|(k, v)| {
                let resource = k.strip_prefix("res:")?;
                Some((resource.to_owned(), serde_json::from_str(v).ok()?))
            })
            .collect(),
        verified: get("verified").map(|v| v == "1"),
        mismatches: get("mismatches").and_then(|m| m.parse().ok()).unwrap_or(0),
        // A link's health fields (written by `apply_health.lua` and `memory/health.rs`).
        health: LinkHealth {
            health: get("health").and_then(Health::parse),
            reason: get("health_code").map(|code| HealthReason {
                code: code.to_owned(),
                message: get("health_message").map(str::to_owned),
            }),
            changed_at: millis("health_changed_at"),
            checked_at: millis("checked_at"),
        },
        // Its consent fields (the same writers).
        consent: LinkConsent {
            consent_id: get("consent_id").map(str::to_owned),
            state: ConsentState::from_stored(get("consent").unwrap_or("")),
            due_at: millis("consent_due_at"),
            changed_at: millis("consent_changed_at"),
            renew: get("consent_renew").and_then(|r| serde_json::from_str(r).ok()),
        },
    }
}

#[cfg(test)]
mod tests;
