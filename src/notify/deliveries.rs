//! What an admin sees of deliveries and can do about them (SPEC §13, `/admin/deliveries` and
//! `/v1/admin/deliveries`): the events each endpoint has not taken yet, the dead ones with their
//! last answer, and a replay of a dead one (to its endpoint alone, with its `webhook-id`).

use serde::Serialize;

use crate::config::notify::NotifySettings;
use crate::domain::session::rfc3339;
use crate::store::{DeadDelivery, DynStore, HeldDelivery, StoreResult};

/// How many deliveries of each kind are listed.
pub const LISTED: usize = 200;

/// Which deliveries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Handed out to an endpoint and not acknowledged yet: in flight or waiting for a retry.
    Pending,
    /// Not delivered within `notify.max_age`: kept, no longer retried; an admin may replay it.
    Dead,
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// For a dead delivery, the id to replay it with; for a pending one, its outbox entry.
    pub id: String,
    pub status: DeliveryStatus,
    /// The `webhook-id` the endpoint gets (the same on every attempt and replay).
    pub webhook_id: String,
    /// The event type (`session.succeeded`...).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The endpoint's URL (or its consumer group when it is no longer configured).
    pub endpoint: String,
    /// Attempts so far.
    pub attempts: u64,
    /// The endpoint's last answer (`HTTP 500`, `timed out`...); kept for dead deliveries.
    pub last_answer: Option<String>,
    /// When the event happened.
    pub occurred_at: Option<String>,
    pub session_id: Option<String>,
    pub link_id: Option<String>,
}

/// Where each configured endpoint's group points.
fn endpoint_of(settings: &NotifySettings, group: &str) -> String {
    settings
        .endpoints
        .iter()
        .find(|e| super::group_name(&e.url) == group)
        .map_or_else(|| group.to_owned(), |e| e.url.to_string())
}

fn field(fields: &std::collections::BTreeMap<String, String>, name: &str) -> Option<String> {
    fields.get(name).filter(|v| !v.is_empty()).cloned()
}

fn occurred_at(fields: &std::collections::BTreeMap<String, String>) -> Option<String> {
    crate::domain::event::occurred_at(fields).map(rfc3339)
}

fn pending(settings: &NotifySettings, group: &str, held: HeldDelivery) -> Delivery {
    Delivery {
        webhook_id: field(&held.fields, "webhook_id")
            .unwrap_or_else(|| super::webhook_id(&held.id)),
        status: DeliveryStatus::Pending,
        event_type: field(&held.fields, "type").unwrap_or_default(),
        endpoint: endpoint_of(settings, group),
        attempts: held.attempts,
        last_answer: None,
        occurred_at: occurred_at(&held.fields),
        session_id: field(&held.fields, "session_id"),
        link_id: field(&held.fields, "link_id"),
        id: held.id,
    }
}

fn dead(settings: &NotifySettings, dead: DeadDelivery) -> Delivery {
    let f = &dead.fields;
    let event_id = field(f, "event_id").unwrap_or_default();
    Delivery {
        webhook_id: field(f, "webhook_id").unwrap_or_else(|| super::webhook_id(&event_id)),
        status: DeliveryStatus::Dead,
        event_type: field(f, "type").unwrap_or_default(),
        endpoint: endpoint_of(settings, &field(f, "group").unwrap_or_default()),
        attempts: f.get("attempts").and_then(|a| a.parse().ok()).unwrap_or(0),
        last_answer: field(f, "answer"),
        occurred_at: occurred_at(f),
        session_id: field(f, "session_id"),
        link_id: field(f, "link_id"),
        id: dead.id,
    }
}

/// The deliveries with `status` (both kinds when none): pending ones per configured endpoint,
/// oldest first, then dead ones, newest first.
pub async fn list(
    store: &DynStore,
    settings: &NotifySettings,
    status: Option<DeliveryStatus>,
) -> StoreResult<Vec<Delivery>> {
    let mut listed = Vec::new();
    if status != Some(DeliveryStatus::Dead) {
        for endpoint in &settings.endpoints {
            let group = super::group_name(&endpoint.url);
            for held in store.held_deliveries(&group, LISTED).await? {
                listed.push(pending(settings, &group, held));
            }
        }
    }
    if status != Some(DeliveryStatus::Pending) {
        for d in store.dead_deliveries(LISTED).await? {
            listed.push(dead(settings, d));
        }
    }
    Ok(listed)
}

/// A dead delivery's id as the store gives them (`<ms>-<n>`, each part a u64 as Redis stream
/// ids are, after `sh<NN>-` naming the shard's stream); anything else names none.
pub fn is_delivery_id(id: &str) -> bool {
    let part = |p: &str| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u64>().is_ok();
    let id = match id.strip_prefix("sh").and_then(|rest| rest.split_once('-')) {
        Some((shard, rest)) if shard.len() == 2 && part(shard) => rest,
        _ => id,
    };
    id.split_once('-')
        .is_some_and(|(ms, n)| part(ms) && part(n))
}

/// Replays the dead delivery `id`; false when there is none (already replayed, or not dead).
pub async fn replay(store: &DynStore, id: &str) -> StoreResult<bool> {
    if !is_delivery_id(id) {
        return Ok(false);
    }
    let replayed = store
        .replay_dead(id, crate::domain::session::now_millis())
        .await?;
    if replayed {
        tracing::info!(delivery = id, "dead delivery replayed");
    }
    Ok(replayed)
}

/// Replays every dead delivery (the newest `LISTED` at a time, until none is left); returns how
/// many.
pub async fn replay_all(store: &DynStore) -> StoreResult<usize> {
    let mut count = 0;
    loop {
        let dead = store.dead_deliveries(LISTED).await?;
        let before = count;
        for d in dead {
            if replay(store, &d.id).await? {
                count += 1;
            }
        }
        // None left (or another admin replays them at the same time).
        if count == before {
            return Ok(count);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_stream_ids_name_deliveries() {
        assert!(super::is_delivery_id("1767225600000-3"));
        assert!(super::is_delivery_id("sh07-1767225600000-3"));
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "abc",
            "1-2-3",
            "1-x",
            "+",
            "+1-1",
            "99999999999999999999-1",
            "sh07-1-2-3",
            "shxx-1-2",
            "sh7-1-2",
        ] {
            assert!(!super::is_delivery_id(bad), "{bad}");
        }
    }
}
