//! In-memory implementation for the embedded defaults and single-process use.
//! Same behaviour as the Redis store, including expiry; `apply` mirrors `apply_event.lua`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{Retention, SessionStore, StoreResult};
use crate::domain::ids::{LinkId, Platform, SessionId};
use crate::domain::session::{
    Applied, NewSession, Session, Status, Transition, Warning, MAX_EVENTS, MAX_WARNINGS,
};

struct Entry {
    fields: HashMap<String, String>,
    timeline: Vec<serde_json::Value>,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Entry>,
    links: HashMap<LinkId, (SessionId, Instant)>,
    last_sweep: Option<Instant>,
}

/// How often writes sweep out expired records.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub struct MemoryStore {
    inner: Mutex<Inner>,
    retention: Retention,
    changes: broadcast::Sender<SessionId>,
}

impl MemoryStore {
    pub fn new(retention: Retention) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            inner: Mutex::new(Inner::default()),
            retention,
            changes,
        }
    }

    /// Drops expired records at most once a minute, from writes, so memory stays bounded
    /// without a timer task.
    fn sweep(inner: &mut Inner, now: Instant) {
        if inner.last_sweep.is_some_and(|at| now - at < SWEEP_EVERY) {
            return;
        }
        inner.last_sweep = Some(now);
        inner.sessions.retain(|_, e| e.expires > now);
        inner.links.retain(|_, (_, exp)| *exp > now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::sweep(&mut inner, now);
        let fields = session
            .to_fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        inner.sessions.insert(
            session.id,
            Entry {
                fields,
                timeline: Vec::new(),
                expires: now + self.retention.session_ttl,
            },
        );
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let inner = self.lock();
        match inner.sessions.get(id) {
            Some(e) if e.expires > Instant::now() => Ok(Some(Session::from_fields(&e.fields)?)),
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
        if status == "pending" && t.now > deadline {
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
        if let Some(outcome) = t.outcome {
            if status == "pending" {
                status = outcome.as_str().to_owned();
                f.insert("status".into(), status.clone());
                f.insert("updated_at".into(), t.now.to_string());
                for (k, v) in &t.fields {
                    f.insert((*k).to_owned(), v.clone());
                }
                if let Some(link) = t.link {
                    inner.links.insert(link, (*id, entry.expires));
                }
                changed = true;
            }
        } else if let Some(warning) = &t.warning {
            let mut warnings: Vec<Warning> =
                serde_json::from_str(&f["warnings"]).unwrap_or_default();
            if warnings.len() < MAX_WARNINGS {
                warnings.push(serde_json::from_str(warning).expect("warning built by Transition"));
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
        drop(guard);
        let _ = self.changes.send(*id);
        Ok(Applied::Recorded {
            status: parse_status(&status),
            platform,
            changed,
        })
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

    async fn session_for_link(&self, link: &LinkId) -> StoreResult<Option<SessionId>> {
        let inner = self.lock();
        Ok(inner
            .links
            .get(link)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(id, _)| *id))
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionId> {
        self.changes.subscribe()
    }
}

fn parse_platform(fields: &HashMap<String, String>) -> Platform {
    Platform::parse(&fields["platform"]).unwrap_or(Platform::Web)
}

fn parse_status(raw: &str) -> Status {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).unwrap_or(Status::Pending)
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}
