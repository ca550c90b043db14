//! [`FunnelStore`] on Redis: one hash per shard per day, summed when read; and the cluster's
//! separate counting call.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::Cmd;

use super::RedisStore;
use crate::domain::funnel::Day;
use crate::domain::ids::SessionId;
use crate::domain::session::Millis;
use crate::domain::shard::Shard;
use crate::store::{FunnelStore, StoreResult};

#[async_trait]
impl FunnelStore for RedisStore {
    async fn funnel_counts(&self, days: &[Day]) -> StoreResult<HashMap<String, u64>> {
        let keys: Vec<String> = days
            .iter()
            .flat_map(|day| Shard::all().map(|shard| self.keys.funnel(shard, *day)))
            .collect();
        let hashes: Vec<HashMap<String, u64>> = if self.conn.is_cluster() {
            // Keys of many slots: one pipeline per key, sent together.
            let reads = keys.iter().map(|key| {
                let mut conn = self.conn();
                async move { Cmd::hgetall(key).query_async(&mut conn).await }
            });
            self.run(futures_util::future::try_join_all(reads)).await?
        } else {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.add_command(Cmd::hgetall(key));
            }
            let mut conn = self.conn();
            self.run(pipe.query_async(&mut conn)).await?
        };
        let mut sum: HashMap<String, u64> = HashMap::new();
        for hash in hashes {
            for (field, count) in hash {
                *sum.entry(field).or_default() += count;
            }
        }
        Ok(sum)
    }
}

impl RedisStore {
    /// On a Redis Cluster, the counters a script replied, written right after it: the session's
    /// keys are not in its shard's slot yet. TEMPORARY until session keys carry the shard tag
    /// (branch `shards`): then the scripts count themselves, as on a single server.
    pub(super) async fn count_funnel_apart(
        &self,
        id: &SessionId,
        now: Millis,
        fields: &[String],
    ) -> StoreResult<()> {
        if fields.is_empty() {
            return Ok(());
        }
        let day = Day::of_millis(now);
        let key = self.keys.funnel(Shard::of_session(id), day);
        let mut pipe = redis::pipe();
        for field in fields {
            pipe.add_command(Cmd::hincr(&key, field, 1)).ignore();
        }
        pipe.add_command(Cmd::pexpire_at(&key, day.expire_at_millis()))
            .ignore();
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }
}
