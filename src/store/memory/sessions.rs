//! [`Sessions`] in memory; `apply` mirrors `apply_event.lua`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{Entry, MemoryStore, MAX_USER_SESSIONS};
use crate::domain::external_id::ExternalId;
use crate::domain::ids::{Platform, SessionId};
use crate::domain::session::{
    AccessToken, Applied, Millis, NewSession, Session, Status, Transition, Warning, WidgetOpening,
    MAX_EVENTS, MAX_WARNINGS,
};
use crate::store::{codec, Expiry, Sessions, StoreResult};

#[async_trait]
impl Sessions for MemoryStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::sweep(&mut inner, now);
        let mut fields: HashMap<String, String> = codec::new_session_fields(session)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        // Redis keeps the token in a key of its own (so the hash stays a listpack); here a
        // field of the entry does, read and renewed alike.
        if let Some(token) = &session.token {
            fields.insert("token".into(), token.0.clone());
        }
        let lives = self
            .retention
            .session_ms_from_creation(session.created_at, session.deadline);
        let expires = now + std::time::Duration::from_millis(lives as u64);
        let (list, exp) = inner
            .user_sessions
            .entry(session.owner.clone())
            .or_insert_with(|| (Vec::new(), expires));
        list.push((session.created_at, session.id));
        list.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        list.truncate(MAX_USER_SESSIONS);
        *exp = expires;
        inner.sessions.insert(
            session.id,
            Entry {
                fields,
                ..Entry::new(expires)
            },
        );
        let created = codec::created_funnel_field(session);
        super::funnel::count(&mut inner, session.created_at, &[created]);
        Ok(())
    }

    async fn user_sessions(&self, owner: &ExternalId, limit: usize) -> StoreResult<Vec<SessionId>> {
        let inner = self.lock();
        Ok(inner
            .user_sessions
            .get(owner)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(list, _)| list.iter().take(limit).map(|(_, id)| *id).collect())
            .unwrap_or_default())
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let inner = self.lock();
        match inner.sessions.get(id) {
            Some(e) if e.expires > Instant::now() => {
                Ok(Some(codec::session_from_fields(&e.fields)?))
            }
            _ => Ok(None),
        }
    }

    async fn apply(&self, id: &SessionId, t: &Transition) -> StoreResult<Applied> {
        let now = Instant::now();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = inner.sessions.get_mut(id).filter(|e| e.expires > now) else {
            return Ok(Applied::Missing);
        };
        let f = &mut entry.fields;
        let mut status = f["status"].clone();
        let deadline: i64 = f["deadline"].parse().unwrap_or(0);
        // Past its deadline, or stored expired by the scheduler (`expire_session`): refused.
        if status == "expired" || (status == "pending" && t.now > deadline) {
            return Ok(Applied::Expired);
        }
        let seen = format!("seen:{}", t.fingerprint);
        if f.contains_key(&seen) {
            let replays: u32 = f.get("replays").and_then(|r| r.parse().ok()).unwrap_or(0);
            f.insert("replays".into(), (replays + 1).to_string());
            return Ok(Applied::Replay {
                status: parse_status(&status),
                platform: parse_platform(f),
            });
        }
        let mut changed = false;
        let mut counted = Vec::new();
        // A success naming a link another user owns fails instead; the link stays theirs.
        let replaced;
        let repairs = f.get("mode").map(String::as_str) == Some("update");
        let t = match t.link.map(|link| (link, inner.links.get(&link))) {
            // An update-mode session must name the link it repairs.
            Some((link, _))
                if repairs && f.get("link_id").map(String::as_str) != Some(&link.to_string()) =>
            {
                replaced = t.mismatched();
                &replaced
            }
            Some((_, Some(link))) if link.fields.get("owner").is_some_and(|o| *o != f["owner"]) => {
                replaced = t.owned_elsewhere();
                &replaced
            }
            _ => t,
        };
        if let Some(outcome) = t.outcome {
            if status == "pending" {
                status = outcome.as_str().to_owned();
                f.insert("status".into(), status.clone());
                f.insert("updated_at".into(), t.now.to_string());
                for (k, v) in codec::terminal_fields(t) {
                    f.insert(k.to_owned(), v.into_owned());
                }
                // A finished session is kept for its retention from now.
                entry.expires = now + self.retention.sessions;
                if let Some(link) = t.link {
                    let owner = f["owner"].clone();
                    let sub = f.get("sub").cloned();
                    // A link outlives its session: kept from its latest activity.
                    let expires = now + self.retention.links;
                    let link = inner
                        .links
                        .entry(link)
                        .or_insert_with(|| Entry::new(expires));
                    // The first session to report a link holds it; its owner never changes.
                    if !link.fields.contains_key("session") {
                        link.fields.insert("session".into(), id.to_string());
                        link.fields.entry("owner".into()).or_insert(owner);
                        // The app's user id, for the link's own events.
                        if let Some(sub) = sub {
                            link.fields.insert("sub".into(), sub);
                        }
                    }
                    link.expires = link.expires.max(expires);
                }
                if t.emit {
                    let event = outbound_event(f, id, &status, t.now);
                    inner.outbox.add(t.now, event);
                }
                counted = super::funnel::terminal_fields(f, t, &status);
                changed = true;
            }
        } else if t.details.error.is_some() {
            // An error that leaves the session pending (an expired widget token).
            if status == "pending" {
                f.insert("updated_at".into(), t.now.to_string());
                for (k, v) in codec::terminal_fields(t) {
                    f.insert(k.to_owned(), v.into_owned());
                }
                changed = true;
            }
        } else if let Some(warning) = &t.warning {
            let mut warnings: Vec<Warning> =
                serde_json::from_str(&f["warnings"]).unwrap_or_default();
            if warnings.len() < MAX_WARNINGS {
                warnings.push(warning.clone());
                f.insert("warnings".into(), serde_json::to_string(&warnings).unwrap());
                f.insert("updated_at".into(), t.now.to_string());
                changed = true;
            }
        }
        let platform = parse_platform(f);
        let count: u32 = f["event_count"].parse().unwrap_or(0);
        if count < MAX_EVENTS {
            f.insert(seen, t.now.to_string());
            f.insert("event_count".into(), (count + 1).to_string());
            let mut e = t.timeline_entry.clone();
            e["effect"] = if changed { "applied" } else { "ignored" }.into();
            entry.timeline.push(e);
        }
        super::funnel::count(inner, t.now, &counted);
        drop(guard);
        let _ = self.changes.send(*id);
        Ok(Applied::Recorded {
            status: parse_status(&status),
            platform,
            changed,
        })
    }

    async fn expire_session(&self, id: &SessionId, now: Millis) -> StoreResult<Expiry> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = inner
            .sessions
            .get_mut(id)
            .filter(|e| e.expires > Instant::now())
        else {
            return Ok(Expiry::Nothing);
        };
        let f = &mut entry.fields;
        if f["status"] != "pending" {
            return Ok(Expiry::Nothing);
        }
        let deadline: i64 = f["deadline"].parse().unwrap_or(0);
        if now <= deadline {
            return Ok(Expiry::NotYet(deadline));
        }
        f.insert("status".into(), "expired".into());
        f.insert("updated_at".into(), now.to_string());
        let event = outbound_event(f, id, "expired", now);
        inner.outbox.add(now, event);
        drop(guard);
        let _ = self.changes.send(*id);
        Ok(Expiry::Expired)
    }

    async fn open_widget(&self, id: &SessionId, now: Millis) -> StoreResult<WidgetOpening> {
        let mut inner = self.lock();
        let Some(entry) = inner
            .sessions
            .get_mut(id)
            .filter(|e| e.expires > Instant::now())
        else {
            return Ok(WidgetOpening::Missing);
        };
        let f = &mut entry.fields;
        let deadline: i64 = f["deadline"].parse().unwrap_or(0);
        if f["status"] != "pending" || now > deadline {
            return Ok(WidgetOpening::Closed(codec::session_from_fields(f)?));
        }
        let opens: u32 = f.get("opens").and_then(|n| n.parse().ok()).unwrap_or(0);
        f.insert("opens".into(), (opens + 1).to_string());
        let first = !f.contains_key("opened_at");
        f.entry("opened_at".into())
            .or_insert_with(|| now.to_string());
        f.retain(|field, _| !field.starts_with("seen:"));
        let token = f.get("token").cloned();
        let session = codec::session_from_fields(f)?;
        if first {
            let opened = super::funnel::opened_field(f);
            super::funnel::count(&mut inner, now, &[opened]);
        }
        Ok(WidgetOpening::Open(codec::with_token(session, token)))
    }

    async fn begin_renewal(&self, id: &SessionId, hold: Duration) -> StoreResult<bool> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.renewals.get(id) {
            Some(until) if *until > now => Ok(false),
            _ => {
                inner.renewals.insert(*id, now + hold);
                Ok(true)
            }
        }
    }

    async fn store_token(
        &self,
        id: &SessionId,
        token: &AccessToken,
        expires_at: Millis,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.renewals.remove(id);
        if let Some(entry) = inner.sessions.get_mut(id) {
            entry.fields.insert("token".into(), token.0.clone());
            entry
                .fields
                .insert("token_expires_at".into(), expires_at.to_string());
        }
        Ok(())
    }

    async fn current_token(&self, id: &SessionId) -> StoreResult<Option<(AccessToken, Millis)>> {
        let inner = self.lock();
        Ok(inner
            .sessions
            .get(id)
            .filter(|e| e.expires > Instant::now())
            .and_then(|e| {
                let token = e.fields.get("token")?;
                let expires_at = e.fields.get("token_expires_at")?.parse().ok()?;
                Some((AccessToken(token.clone()), expires_at))
            }))
    }

    async fn end_renewal(&self, id: &SessionId) -> StoreResult<()> {
        self.lock().renewals.remove(id);
        Ok(())
    }

    async fn timeline(&self, id: &SessionId) -> StoreResult<Vec<serde_json::Value>> {
        let inner = self.lock();
        Ok(inner
            .sessions
            .get(id)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.timeline.clone())
            .unwrap_or_default())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionId> {
        self.changes.subscribe()
    }
}

fn parse_platform(fields: &HashMap<String, String>) -> Platform {
    fields["platform"].parse().unwrap_or(Platform::Web)
}

fn parse_status(raw: &str) -> Status {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).unwrap_or(Status::Pending)
}

/// The outbound event of a terminal change, as `apply_event.lua` writes it.
fn outbound_event(
    f: &mut HashMap<String, String>,
    id: &SessionId,
    status: &str,
    now: Millis,
) -> std::collections::BTreeMap<String, String> {
    let sequence: u64 = f.get("event_seq").and_then(|s| s.parse().ok()).unwrap_or(0) + 1;
    f.insert("event_seq".into(), sequence.to_string());
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let institution = f
        .get("institution")
        .or_else(|| f.get("exit_institution"))
        .cloned()
        .unwrap_or_default();
    let reason = if status == "failed" {
        get("error_code")
    } else {
        String::new()
    };
    [
        ("type", format!("session.{status}")),
        ("at", now.to_string()),
        ("session_id", id.to_string()),
        ("product", get("product")),
        ("external_id", get("owner")),
        ("link_id", get("link_id")),
        ("sub", get("sub")),
        ("institution", institution),
        ("reason", reason),
        ("sequence", sequence.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
