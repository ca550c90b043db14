//! In-memory implementation for the embedded defaults and single-process use, one file per
//! area. Same behaviour as the Redis store, including expiry; `apply` mirrors `apply_event.lua`.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

mod attempts;
mod deliveries;
mod funnel;
mod health;
mod institutions;
mod links;
mod outbox;
mod sessions;
mod staff;

use super::Retention;
use crate::domain::external_id::ExternalId;
use crate::domain::ids::{LinkId, SessionId};

/// A session or a link: the same shape as its Redis hash and list.
struct Entry {
    fields: HashMap<String, String>,
    timeline: Vec<serde_json::Value>,
    /// A link's latest webhook ids (at most `MAX_WEBHOOK_IDS`), oldest first.
    webhook_ids: VecDeque<String>,
    expires: Instant,
}

impl Entry {
    fn new(expires: Instant) -> Self {
        Self {
            fields: HashMap::new(),
            timeline: Vec::new(),
            webhook_ids: VecDeque::new(),
            expires,
        }
    }
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Entry>,
    links: HashMap<LinkId, Entry>,
    /// Per user: sessions (created_at, id) and links, each list with its expiry.
    user_sessions: HashMap<ExternalId, (Vec<(i64, SessionId)>, Instant)>,
    user_links: HashMap<ExternalId, (BTreeSet<LinkId>, Instant)>,
    attempts: HashMap<String, (u64, Instant)>,
    distinct: HashMap<String, (HashSet<String>, Instant)>,
    /// Sessions whose widget token is being renewed, until when.
    renewals: HashMap<SessionId, Instant>,
    /// Outbound events waiting for delivery (`memory/outbox.rs`).
    outbox: outbox::Stream,
    last_sweep: Option<Instant>,
    /// Each link's health changes, newest first (`health.rs`).
    health_history: HashMap<LinkId, Vec<serde_json::Value>>,
    /// Links needing attention, per health value, with the time it changed.
    health_index: HashMap<crate::domain::health::Health, HashMap<LinkId, i64>>,
    /// The link check schedule.
    due: health::DueSet,
    /// Institution health (`institutions.rs`).
    institutions: institutions::InstitutionData,
    /// The funnel's daily counters (`funnel.rs`).
    funnel: funnel::Counters,
}

/// The most sessions kept in a user's index (as in Redis).
const MAX_USER_SESSIONS: usize = 200;

/// How often writes sweep out expired records.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub struct MemoryStore {
    inner: Mutex<Inner>,
    retention: Retention,
    changes: broadcast::Sender<SessionId>,
    /// Staff sessions, audit log and branding (`memory/staff.rs`).
    staff: staff::StaffData,
    /// Whether link changes write their outbound events (an endpoint is configured).
    events: bool,
    /// Each product's fetch resources: a link's `link.resources_ready` (SPEC §13).
    fetch_resources: crate::domain::webhook::FetchResources,
}

impl MemoryStore {
    pub fn new(retention: Retention) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            inner: Mutex::new(Inner::default()),
            retention,
            changes,
            staff: staff::StaffData::new(),
            events: false,
            fetch_resources: Default::default(),
        }
    }

    /// Link changes write their outbound events (SPEC §13) when `on`, as on Redis.
    pub fn with_events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Each product's fetch resources, so a link's webhooks tell when every one is ready
    /// (none known: never).
    pub fn with_fetch_resources(
        mut self,
        resources: crate::domain::webhook::FetchResources,
    ) -> Self {
        self.fetch_resources = resources;
        self
    }

    /// Drops expired records at most once a minute, from writes, so memory stays bounded
    /// without a timer task.
    fn sweep(inner: &mut Inner, now: Instant) {
        if inner.last_sweep.is_some_and(|at| now - at < SWEEP_EVERY) {
            return;
        }
        inner.last_sweep = Some(now);
        inner.sessions.retain(|_, e| e.expires > now);
        inner.links.retain(|_, e| e.expires > now);
        let Inner {
            links,
            health_history,
            health_index,
            ..
        } = inner;
        health_history.retain(|l, _| links.contains_key(l));
        for index in health_index.values_mut() {
            index.retain(|l, _| links.contains_key(l));
        }
        inner.user_sessions.retain(|_, (_, exp)| *exp > now);
        inner.user_links.retain(|_, (_, exp)| *exp > now);
        inner.attempts.retain(|_, (_, exp)| *exp > now);
        inner.distinct.retain(|_, (_, exp)| *exp > now);
        inner.renewals.retain(|_, until| *until > now);
        funnel::sweep(inner);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
