//! [`Outbox`] in memory: a stream of entries and each group's last handed-out entry and held
//! entries, as the Redis stream and its consumer groups keep them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::event::EventType;
use crate::store::{Outbox, OutboxEntry, StoreResult};

/// About how many dead deliveries are kept (as in Redis).
const MAX_DEAD: usize = 10_000;

#[derive(Default)]
pub(super) struct Stream {
    /// Entries by their sequence number (ids are `<ms>-<seq>`).
    pub(super) entries: BTreeMap<u64, (String, BTreeMap<String, String>)>,
    next: u64,
    pub(super) groups: HashMap<String, Group>,
    /// Dead deliveries with their ids (`<ms>-<n>`, as the dead stream's).
    pub(super) dead: Vec<(String, BTreeMap<String, String>)>,
    dead_next: u64,
}

pub(super) struct Group {
    /// The last sequence number handed out.
    last: u64,
    /// Held entries: consumer, latest attempt, attempts.
    pub(super) pending: BTreeMap<u64, (String, Instant, u64)>,
}

impl Stream {
    /// Appends an event (`apply` calls this in the same lock as the change).
    pub(super) fn add(&mut self, now_ms: i64, fields: BTreeMap<String, String>) {
        self.next += 1;
        let id = format!("{now_ms}-{}", self.next);
        self.entries.insert(self.next, (id, fields));
    }

    /// A link's event, as `link_event` in `outbox_add.lua`: its data from the link's fields,
    /// and the link's next sequence number.
    pub(super) fn add_link_event(
        &mut self,
        link_fields: &mut HashMap<String, String>,
        link_id: &str,
        event_type: EventType,
        now_ms: i64,
        extra: &[(&str, &str)],
    ) {
        let sequence: u64 = link_fields
            .get("event_seq")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
            + 1;
        link_fields.insert("event_seq".into(), sequence.to_string());
        let get = |k: &str| link_fields.get(k).cloned().unwrap_or_default();
        let mut fields: BTreeMap<String, String> = [
            ("type", event_type.as_str().to_owned()),
            ("at", now_ms.to_string()),
            ("link_id", link_id.to_owned()),
            ("external_id", get("owner")),
            ("product", get("product")),
            ("sub", get("sub")),
            ("institution", get("institution")),
            ("session_id", get("session")),
            ("sequence", sequence.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            fields.insert((*k).to_owned(), (*v).to_owned());
        }
        self.add(now_ms, fields);
    }

    fn seq(id: &str) -> Option<u64> {
        id.rsplit_once('-')?.1.parse().ok()
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn outbox_join(&self, group: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        inner
            .outbox
            .groups
            .entry(group.to_owned())
            .or_insert_with(|| Group {
                last: 0,
                pending: BTreeMap::new(),
            });
        Ok(())
    }

    async fn outbox_read(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let mut inner = self.lock();
        let stream = &mut inner.outbox;
        let Some(g) = stream.groups.get_mut(group) else {
            return Ok(Vec::new());
        };
        let mut read = Vec::new();
        for (seq, (id, fields)) in stream.entries.range(g.last + 1..).take(count) {
            g.last = *seq;
            g.pending
                .insert(*seq, (consumer.to_owned(), Instant::now(), 1));
            read.push(OutboxEntry {
                id: id.clone(),
                fields: fields.clone(),
                deliveries: 1,
            });
        }
        Ok(read)
    }

    async fn outbox_claim_due(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        min_idle: Duration,
        due: &(dyn Fn(u64) -> Duration + Send + Sync),
    ) -> StoreResult<Vec<OutboxEntry>> {
        let mut inner = self.lock();
        let stream = &mut inner.outbox;
        let Some(g) = stream.groups.get_mut(group) else {
            return Ok(Vec::new());
        };
        let now = Instant::now();
        let mut claimed = Vec::new();
        g.pending.retain(|seq, _| stream.entries.contains_key(seq));
        for (seq, (holder, at, attempts)) in g.pending.iter_mut() {
            if claimed.len() == count {
                break;
            }
            if now.duration_since(*at) < due(*attempts).max(min_idle) {
                continue;
            }
            let (id, fields) = &stream.entries[seq];
            *holder = consumer.to_owned();
            *at = now;
            *attempts += 1;
            claimed.push(OutboxEntry {
                id: id.clone(),
                fields: fields.clone(),
                deliveries: *attempts,
            });
        }
        Ok(claimed)
    }

    async fn outbox_ack(&self, group: &str, id: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        if let (Some(g), Some(seq)) = (inner.outbox.groups.get_mut(group), Stream::seq(id)) {
            g.pending.remove(&seq);
        }
        Ok(())
    }

    async fn outbox_retry_later(&self, group: &str, consumer: &str, id: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        if let (Some(g), Some(seq)) = (inner.outbox.groups.get_mut(group), Stream::seq(id)) {
            if let Some((holder, at, _)) = g.pending.get_mut(&seq) {
                *holder = consumer.to_owned();
                *at = Instant::now();
            }
        }
        Ok(())
    }

    async fn outbox_dead(&self, group: &str, entry: &OutboxEntry, answer: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        let stream = &mut inner.outbox;
        let mut dead = entry.fields.clone();
        dead.insert("group".into(), group.to_owned());
        dead.insert("event_id".into(), entry.id.clone());
        dead.insert("attempts".into(), entry.deliveries.to_string());
        dead.insert("answer".into(), answer.to_owned());
        stream.dead_next += 1;
        let dead_id = format!(
            "{}-{}",
            crate::domain::session::now_millis(),
            stream.dead_next
        );
        stream.dead.push((dead_id, dead));
        if stream.dead.len() > MAX_DEAD {
            stream.dead.remove(0);
        }
        if let (Some(g), Some(seq)) = (stream.groups.get_mut(group), Stream::seq(&entry.id)) {
            g.pending.remove(&seq);
        }
        Ok(())
    }

    async fn outbox_trim(&self, groups: &[String]) -> StoreResult<u64> {
        let mut inner = self.lock();
        let stream = &mut inner.outbox;
        let mut keep_from = u64::MAX;
        for name in groups {
            let Some(g) = stream.groups.get(name) else {
                return Ok(0);
            };
            // As Redis's `XTRIM MINID <last-delivered-id>`: the last one handed out stays.
            let needed = g.pending.keys().next().copied().unwrap_or(g.last);
            keep_from = keep_from.min(needed);
        }
        if groups.is_empty() {
            return Ok(0);
        }
        let before = stream.entries.len();
        stream.entries = stream.entries.split_off(&keep_from);
        Ok((before - stream.entries.len()) as u64)
    }

    async fn outbox_undelivered(&self, group: &str) -> StoreResult<u64> {
        let inner = self.lock();
        let stream = &inner.outbox;
        Ok(stream.groups.get(group).map_or(0, |g| {
            g.pending.len() as u64 + stream.entries.range(g.last + 1..).count() as u64
        }))
    }

    async fn outbox_oldest_undelivered(&self, group: &str) -> StoreResult<Option<i64>> {
        let inner = self.lock();
        let stream = &inner.outbox;
        let Some(g) = stream.groups.get(group) else {
            return Ok(None);
        };
        let held = g.pending.keys().next().copied();
        let unread = stream
            .entries
            .range(g.last + 1..)
            .next()
            .map(|(seq, _)| *seq);
        let oldest = match (held, unread) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(oldest
            .and_then(|seq| stream.entries.get(&seq))
            .and_then(|(id, _)| id.split_once('-')?.0.parse().ok()))
    }

    async fn outbox_dead_entries(&self) -> StoreResult<Vec<BTreeMap<String, String>>> {
        let inner = self.lock();
        Ok(inner.outbox.dead.iter().map(|(_, f)| f.clone()).collect())
    }
}
