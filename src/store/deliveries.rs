//! What an admin sees of outbound deliveries (SPEC §13, `/admin/deliveries`): the events an
//! endpoint has not taken yet (held, with their attempts), the dead ones, and a dead one put
//! back in the outbox for its endpoint alone (`replay_dead.lua`).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreResult;

/// An event an endpoint's group holds: handed out, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDelivery {
    /// The outbox entry's id (its `webhook-id` is built from it).
    pub id: String,
    /// The event's fields as written.
    pub fields: BTreeMap<String, String>,
    /// Attempts so far.
    pub attempts: u64,
    /// Since the latest attempt (or hand-out), ms.
    pub idle_ms: u64,
}

/// A dead delivery: its id in the dead stream, and what was kept (`group`, `event_id`,
/// `attempts`, `answer` and the event's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadDelivery {
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

#[async_trait]
pub trait Deliveries: Send + Sync {
    /// Up to `count` events `group` holds, oldest first.
    async fn held_deliveries(&self, group: &str, count: usize) -> StoreResult<Vec<HeldDelivery>>;

    /// Up to `count` dead deliveries, newest first.
    async fn dead_deliveries(&self, count: usize) -> StoreResult<Vec<DeadDelivery>>;

    /// Puts the dead delivery `id` back in the outbox for its endpoint alone (same
    /// `webhook-id`, its age counted from `now`) and drops it from the dead ones, in one step;
    /// false when there is no such dead delivery (already replayed).
    async fn replay_dead(&self, id: &str, now: i64) -> StoreResult<bool>;
}

/// The fields a replayed event is written with: the event's own, plus `only_group` (the one
/// endpoint it goes to), `webhook_id` (the original's) and `replayed_at` (ms, its age's start).
pub fn replayed_fields(dead: &BTreeMap<String, String>, now: i64) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> = dead
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "group" | "event_id" | "attempts" | "answer"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(group) = dead.get("group") {
        fields.insert("only_group".into(), group.clone());
    }
    let webhook_id = dead
        .get("webhook_id")
        .cloned()
        .or_else(|| dead.get("event_id").map(|id| format!("evt_{id}")));
    if let Some(webhook_id) = webhook_id {
        fields.insert("webhook_id".into(), webhook_id);
    }
    fields.insert("replayed_at".into(), now.to_string());
    fields
}
