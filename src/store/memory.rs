//! In-memory implementation for the embedded defaults and single-process use.
//! Same behaviour as the Redis store, including expiry; `apply` mirrors `apply_event.lua`.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

mod staff;

use super::{Retention, SessionStore, StoreResult};
use crate::domain::external_id::ExternalId;
use crate::domain::ids::{LinkId, Platform, SessionId};
use crate::domain::session::{
    Applied, NewSession, Session, Status, Transition, Warning, MAX_EVENTS, MAX_WARNINGS,
};
use crate::domain::webhook::{
    LinkClaim, LinkState, WebhookApplied, WebhookUpdate, MAX_WEBHOOK_IDS,
};

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
    last_sweep: Option<Instant>,
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
}

impl MemoryStore {
    pub fn new(retention: Retention) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            inner: Mutex::new(Inner::default()),
            retention,
            changes,
            staff: staff::StaffData::new(),
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
        inner.links.retain(|_, e| e.expires > now);
        inner.user_sessions.retain(|_, (_, exp)| *exp > now);
        inner.user_links.retain(|_, (_, exp)| *exp > now);
        inner.attempts.retain(|_, (_, exp)| *exp > now);
        inner.distinct.retain(|_, (_, exp)| *exp > now);
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
        let expires = now + self.retention.session_ttl;
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
                ..Entry::new(now + self.retention.session_ttl)
            },
        );
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
        // A success naming a link another user owns fails instead; the link stays theirs.
        let owned_elsewhere;
        let t = match t.link.and_then(|link| inner.links.get(&link)) {
            Some(link) if link.fields.get("owner").is_some_and(|o| *o != f["owner"]) => {
                owned_elsewhere = t.owned_elsewhere();
                &owned_elsewhere
            }
            _ => t,
        };
        if let Some(outcome) = t.outcome {
            if status == "pending" {
                status = outcome.as_str().to_owned();
                f.insert("status".into(), status.clone());
                f.insert("updated_at".into(), t.now.to_string());
                for (k, v) in &t.fields {
                    f.insert((*k).to_owned(), v.clone());
                }
                if let Some(link) = t.link {
                    let owner = f["owner"].clone();
                    let expires = entry.expires;
                    let link = inner
                        .links
                        .entry(link)
                        .or_insert_with(|| Entry::new(expires));
                    // The first session to report a link holds it; its owner never changes.
                    if !link.fields.contains_key("session") {
                        link.fields.insert("session".into(), id.to_string());
                        link.fields.entry("owner".into()).or_insert(owner);
                    }
                    link.expires = link.expires.max(expires);
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

    async fn record_webhook(&self, update: &WebhookUpdate) -> StoreResult<WebhookApplied> {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::sweep(&mut inner, now);
        let link = inner
            .links
            .entry(update.link)
            .or_insert_with(|| Entry::new(now + self.retention.session_ttl));
        if link.webhook_ids.contains(&update.webhook_id) {
            return Ok(WebhookApplied::Duplicate);
        }
        link.webhook_ids.push_back(update.webhook_id.clone());
        if link.webhook_ids.len() > MAX_WEBHOOK_IDS {
            link.webhook_ids.pop_front();
        }
        let f = &mut link.fields;
        f.insert("webhook_at".into(), update.now.to_string());
        let external_id = update.external_id.as_ref().map(|e| e.as_str());
        let mismatch = match (external_id, f.get("owner")) {
            (Some(seen), Some(owner)) => seen != owner,
            _ => false,
        };
        if mismatch {
            let n: u32 = f
                .get("mismatches")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            f.insert("mismatches".into(), (n + 1).to_string());
        } else {
            if let Some(e) = external_id {
                f.entry("webhook_external_id".into())
                    .or_insert_with(|| e.to_owned());
            }
            if let Some((resource, state)) = &update.resource {
                f.insert(
                    format!("res:{resource}"),
                    serde_json::to_string(state).unwrap(),
                );
            }
        }
        if link.timeline.len() < MAX_EVENTS as usize {
            let mut e = update.timeline_entry.clone();
            e["effect"] = if mismatch { "mismatch" } else { "applied" }.into();
            link.timeline.push(e);
        }
        link.expires = link.expires.max(now + self.retention.session_ttl);
        let session = link
            .fields
            .get("session")
            .and_then(|s| SessionId::parse(s).ok());
        drop(inner);
        if let Some(id) = session {
            let _ = self.changes.send(id);
        }
        Ok(if mismatch {
            WebhookApplied::Mismatch
        } else {
            WebhookApplied::Recorded { session }
        })
    }

    async fn link(&self, link: &LinkId) -> StoreResult<Option<LinkState>> {
        let inner = self.lock();
        Ok(inner
            .links
            .get(link)
            .filter(|e| e.expires > Instant::now())
            .map(|e| LinkState::from_fields(&e.fields)))
    }

    async fn link_timeline(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>> {
        let inner = self.lock();
        Ok(inner
            .links
            .get(link)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.timeline.clone())
            .unwrap_or_default())
    }

    async fn set_link_verified(
        &self,
        link: &LinkId,
        session: &SessionId,
        verified: bool,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        let owned = |e: &&mut Entry| e.fields.get("session") == Some(&session.to_string());
        let Some(entry) = inner.links.get_mut(link).filter(owned) else {
            return Ok(());
        };
        let flag = if verified { "1" } else { "0" };
        entry.fields.insert("verified".into(), flag.into());
        drop(inner);
        let _ = self.changes.send(*session);
        Ok(())
    }

    async fn claim_link(&self, link: &LinkId, claim: &LinkClaim) -> StoreResult<bool> {
        let expires = Instant::now() + self.retention.session_ttl;
        let mut inner = self.lock();
        let entry = inner
            .links
            .entry(*link)
            .or_insert_with(|| Entry::new(expires));
        let owner = claim.owner.to_string();
        if entry.fields.get("owner").is_some_and(|o| *o != owner) {
            return Ok(false);
        }
        for (k, v) in [
            ("owner", owner),
            ("product", claim.product.to_string()),
            ("institution", claim.institution.clone()),
            ("verified", "1".to_owned()),
        ] {
            entry.fields.insert(k.into(), v);
        }
        entry.expires = entry.expires.max(expires);
        let (links, exp) = inner
            .user_links
            .entry(claim.owner.clone())
            .or_insert_with(|| (BTreeSet::new(), expires));
        links.insert(*link);
        *exp = expires;
        Ok(true)
    }

    async fn user_links(&self, owner: &ExternalId) -> StoreResult<Vec<LinkId>> {
        let inner = self.lock();
        let mut links: Vec<LinkId> = inner
            .user_links
            .get(owner)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(set, _)| set.iter().copied().collect())
            .unwrap_or_default();
        links.sort_by_key(|l| l.to_string());
        Ok(links)
    }

    async fn count_attempt(&self, subject: &str, window: Duration) -> StoreResult<(u64, Duration)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let (count, expires) = inner
            .attempts
            .entry(subject.to_owned())
            .and_modify(|(n, exp)| {
                if *exp <= now {
                    *n = 0;
                    *exp = now + window;
                }
            })
            .or_insert((0, now + window));
        *count += 1;
        Ok((*count, expires.saturating_duration_since(now)))
    }

    async fn count_token_request(
        &self,
        user: &ExternalId,
        windows: [Duration; 2],
    ) -> StoreResult<[(u64, Duration); 2]> {
        let mut counts = [(0, Duration::ZERO); 2];
        for (count, window) in counts.iter_mut().zip(windows) {
            let subject = format!("tokens:{user}:{}", window.as_millis());
            *count = self.count_attempt(&subject, window).await?;
        }
        Ok(counts)
    }

    async fn count_distinct(
        &self,
        subject: &str,
        member: &str,
        window: Duration,
        max: u64,
    ) -> StoreResult<(bool, Duration)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let (members, expires) = inner
            .distinct
            .entry(subject.to_owned())
            .and_modify(|(members, exp)| {
                if *exp <= now {
                    members.clear();
                    *exp = now + window;
                }
            })
            .or_insert_with(|| (HashSet::new(), now + window));
        let allowed = members.contains(member) || (members.len() as u64) < max;
        if allowed {
            members.insert(member.to_owned());
        }
        Ok((allowed, expires.saturating_duration_since(now)))
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

impl Default for Retention {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}
