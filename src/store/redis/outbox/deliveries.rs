//! [`Deliveries`] on Redis, over every outbox stream (each shard's, and the one of the layout
//! before shards while it exists): `XPENDING` (with each entry's idle time and attempts) and
//! `XRANGE` for held events, `XREVRANGE` of the dead streams, `replay_dead.lua` on the stream
//! a dead delivery's id names (its dead stream and its outbox share the shard's slot).

use async_trait::async_trait;

use super::stream::{entries, items, parse_id, text};
use super::OutboxStream;
use crate::store::redis::RedisStore;
use crate::store::{lua, DeadDelivery, Deliveries, HeldDelivery, StoreResult};

impl RedisStore {
    /// The events of one stream held by `group` (handed out, not acknowledged), by public id.
    async fn held_in(
        &self,
        stream: OutboxStream,
        key: &str,
        group: &str,
        count: usize,
    ) -> StoreResult<Vec<HeldDelivery>> {
        let mut pending = redis::cmd("XPENDING");
        pending.arg(key).arg(group).arg("-").arg("+").arg(count);
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
            range.arg(key).arg(&id).arg(&id);
            let found = self.query(&range).await?;
            if let Some(entry) = entries(&found, |_| attempts).into_iter().next() {
                held.push(HeldDelivery {
                    id: stream.event_id(&id),
                    fields: entry.fields,
                    attempts,
                    idle_ms,
                });
            }
        }
        Ok(held)
    }
}

/// Orders ids of several streams by their time (`[sh07-]<ms>-<n>`), oldest first.
fn by_time(id: &str) -> Option<(u64, u64)> {
    parse_id(OutboxStream::of_event(id).1)
}

#[async_trait]
impl Deliveries for RedisStore {
    /// The oldest `count` held events of all streams.
    async fn held_deliveries(&self, group: &str, count: usize) -> StoreResult<Vec<HeldDelivery>> {
        let held = self
            .on_every_stream(
                |stream, key| async move { self.held_in(stream, &key, group, count).await },
            )
            .await?;
        let mut held: Vec<HeldDelivery> = held.into_iter().flatten().collect();
        held.sort_by_key(|d| by_time(&d.id));
        held.truncate(count);
        Ok(held)
    }

    /// The latest `count` dead deliveries of all streams, newest first.
    async fn dead_deliveries(&self, count: usize) -> StoreResult<Vec<DeadDelivery>> {
        let dead = self
            .on_every_stream(|stream, _| async move {
                let mut cmd = redis::cmd("XREVRANGE");
                cmd.arg(self.dead_key(stream))
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count);
                let reply = self.query(&cmd).await?;
                Ok(entries(&reply, |_| 0)
                    .into_iter()
                    .map(|e| DeadDelivery {
                        id: stream.event_id(&e.id),
                        fields: e.fields,
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        let mut dead: Vec<DeadDelivery> = dead.into_iter().flatten().collect();
        dead.sort_by_key(|d| std::cmp::Reverse(by_time(&d.id)));
        dead.truncate(count);
        Ok(dead)
    }

    async fn replay_dead(&self, id: &str, now: i64) -> StoreResult<bool> {
        let (stream, stream_id) = OutboxStream::of_event(id);
        // The layout before shards had no events on a cluster (and its two streams are in two
        // slots there): nothing of it to replay.
        if stream == OutboxStream::Legacy && self.conn.is_cluster() {
            return Ok(false);
        }
        let mut conn = self.conn();
        let replayed: i64 = self
            .run(
                lua::REPLAY_DEAD
                    .key(self.dead_key(stream))
                    .key(self.stream_key(stream))
                    .arg(stream_id)
                    .arg(now)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(replayed == 1)
    }
}
