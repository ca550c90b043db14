//! The outbox of outbound events (SPEC §13): `apply_event.lua` appends an event in the same
//! step as the change that causes it; delivering replicas share one consumer group per endpoint,
//! so each endpoint gets each event once (at least once: a replica that dies mid-delivery leaves
//! its entries pending, and another takes them over).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;

/// One event waiting in an endpoint's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its stream id (`<ms>-<n>`): the event's `webhook-id` is built from it.
    pub id: String,
    /// What `apply_event.lua` wrote (`type`, `at`, `session_id`, ...).
    pub fields: BTreeMap<String, String>,
    /// Attempts so far, this one included.
    pub deliveries: u64,
}

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Makes `group` (an endpoint's) if it does not exist yet; it starts at the oldest event
    /// still kept (the stream is trimmed past delivered events, so that is little).
    async fn outbox_join(&self, group: &str) -> StoreResult<()>;

    /// Up to `count` events the group has not handed out yet, now held by `consumer`.
    async fn outbox_read(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> StoreResult<Vec<OutboxEntry>>;

    /// Up to `count` events held in the group (by any consumer, a dead one included) whose
    /// latest attempt is at least `due(attempts so far)` old (never less than `min_idle`), now
    /// held by `consumer`; an entry is taken by one consumer only, even when several ask at once.
    async fn outbox_claim_due(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        min_idle: Duration,
        due: &(dyn Fn(u64) -> Duration + Send + Sync),
    ) -> StoreResult<Vec<OutboxEntry>>;

    /// The event is delivered (or not for this endpoint): the group forgets it.
    async fn outbox_ack(&self, group: &str, id: &str) -> StoreResult<()>;

    /// An attempt failed: the event stays held by `consumer`, its retry delay counted from now.
    async fn outbox_retry_later(&self, group: &str, consumer: &str, id: &str) -> StoreResult<()>;

    /// The event is dead for this endpoint: recorded in the dead stream (with the group and
    /// the last answer) and forgotten by the group, at once.
    async fn outbox_dead(&self, group: &str, entry: &OutboxEntry, answer: &str) -> StoreResult<()>;

    /// Drops the events every one of `groups` has delivered; returns how many were dropped.
    async fn outbox_trim(&self, groups: &[String]) -> StoreResult<u64>;

    /// Events not yet delivered to `group` (held or not handed out yet), for tests and metrics.
    async fn outbox_undelivered(&self, group: &str) -> StoreResult<u64>;

    /// When (ms) the oldest event not yet delivered to `group` was written (held or not handed
    /// out yet); none when everything is delivered.
    async fn outbox_oldest_undelivered(&self, group: &str) -> StoreResult<Option<i64>>;

    /// The dead stream's entries, oldest first (each with `group`, `event_id`, `answer` and
    /// the event's fields).
    async fn outbox_dead_entries(&self) -> StoreResult<Vec<BTreeMap<String, String>>>;
}
