//! [`Deliveries`] on Redis: `XPENDING` (with each entry's idle time and attempts) and `XRANGE`
//! of the outbox for held events, `XREVRANGE` of the dead stream, `replay_dead.lua`.

use async_trait::async_trait;

use super::outbox::{entries, items, text};
use super::RedisStore;
use crate::store::{lua, DeadDelivery, Deliveries, HeldDelivery, StoreResult};

#[async_trait]
impl Deliveries for RedisStore {
    async fn held_deliveries(&self, group: &str, count: usize) -> StoreResult<Vec<HeldDelivery>> {
        let key = self.keys.outbox();
        let mut pending = redis::cmd("XPENDING");
        pending.arg(&key).arg(group).arg("-").arg("+").arg(count);
        let rows = match self.query(&pending).await {
            Ok(rows) => rows,
            // No stream or group yet: nothing held.
            Err(e) if e.to_string().contains("NOGROUP") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut held = Vec::new();
        for row in items(&rows) {
            let row = items(row);
            let number = |i: usize| {
                row.get(i)
                    .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
            };
            let (Some(id), Some(idle_ms), Some(attempts)) =
                (row.first().and_then(text), number(2), number(3))
            else {
                continue;
            };
            let mut range = redis::cmd("XRANGE");
            range.arg(&key).arg(&id).arg(&id);
            let found = self.query(&range).await?;
            if let Some(entry) = entries(&found, |_| attempts).into_iter().next() {
                held.push(HeldDelivery {
                    id,
                    fields: entry.fields,
                    attempts,
                    idle_ms,
                });
            }
        }
        Ok(held)
    }

    async fn dead_deliveries(&self, count: usize) -> StoreResult<Vec<DeadDelivery>> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(self.keys.outbox_dead())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count);
        let reply = self.query(&cmd).await?;
        Ok(entries(&reply, |_| 0)
            .into_iter()
            .map(|e| DeadDelivery {
                id: e.id,
                fields: e.fields,
            })
            .collect())
    }

    async fn replay_dead(&self, id: &str, now: i64) -> StoreResult<bool> {
        let mut conn = self.conn();
        let replayed: i64 = self
            .run(
                lua::REPLAY_DEAD
                    .key(self.keys.outbox_dead())
                    .key(self.keys.outbox())
                    .arg(id)
                    .arg(now)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(replayed == 1)
    }
}
