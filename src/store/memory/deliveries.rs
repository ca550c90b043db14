//! [`Deliveries`] in memory, as on Redis: held entries of a group, dead ones newest first, and
//! a dead one put back for its endpoint alone.

use std::time::Instant;

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::{replayed_fields, DeadDelivery, Deliveries, HeldDelivery, StoreResult};

#[async_trait]
impl Deliveries for MemoryStore {
    async fn held_deliveries(&self, group: &str, count: usize) -> StoreResult<Vec<HeldDelivery>> {
        let inner = self.lock();
        let stream = &inner.outbox;
        let Some(g) = stream.groups.get(group) else {
            return Ok(Vec::new());
        };
        let now = Instant::now();
        Ok(g.pending
            .iter()
            .filter_map(|(seq, (_, at, attempts))| {
                let (id, fields) = stream.entries.get(seq)?;
                Some(HeldDelivery {
                    id: id.clone(),
                    fields: fields.clone(),
                    attempts: *attempts,
                    idle_ms: now.duration_since(*at).as_millis() as u64,
                })
            })
            .take(count)
            .collect())
    }

    async fn dead_deliveries(&self, count: usize) -> StoreResult<Vec<DeadDelivery>> {
        let inner = self.lock();
        Ok(inner
            .outbox
            .dead
            .iter()
            .rev()
            .take(count)
            .map(|(id, fields)| DeadDelivery {
                id: id.clone(),
                fields: fields.clone(),
            })
            .collect())
    }

    async fn replay_dead(&self, id: &str, now: i64) -> StoreResult<bool> {
        let mut inner = self.lock();
        let stream = &mut inner.outbox;
        let Some(at) = stream.dead.iter().position(|(dead_id, _)| dead_id == id) else {
            return Ok(false);
        };
        let (_, dead) = stream.dead.remove(at);
        stream.add(now, replayed_fields(&dead, now));
        Ok(true)
    }
}
