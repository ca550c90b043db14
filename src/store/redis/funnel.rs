//! [`FunnelStore`] on Redis: one hash per shard per day, summed when read (a finished day's sum
//! kept as one hash by its first reader); and the cluster's separate counting call.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::Cmd;

use super::RedisStore;
use crate::domain::funnel::Day;
use crate::domain::session::now_millis;
use crate::domain::shard::Shard;
use crate::store::{FunnelStore, StoreResult};

/// A day's counters are final this long after it ends (a write computed its day before
/// midnight may land just after).
const SETTLE_MS: i64 = 5 * 60 * 1000;
/// The field marking a day's summed hash as written (a day may have no counters at all).
const WRITTEN: &str = "_";
/// Days whose shards one round trip reads.
const DAYS_PER_READ: usize = 4;
/// Hashes one pipeline reads (a day's sum may hold thousands of fields).
const KEYS_PER_PIPELINE: usize = 32;

#[async_trait]
impl FunnelStore for RedisStore {
    async fn funnel_counts(&self, days: &[Day]) -> StoreResult<HashMap<String, u64>> {
        let unsettled = Day::of_millis(now_millis() - SETTLE_MS);
        let settled: Vec<Day> = days.iter().copied().filter(|d| *d < unsettled).collect();
        let summed_keys: Vec<String> = settled.iter().map(|d| self.keys.funnel_day(*d)).collect();
        let summed = self.hgetall_many(&summed_keys).await?;
        let mut total: HashMap<String, u64> = HashMap::new();
        let mut to_sum: Vec<Day> = days.iter().copied().filter(|d| *d >= unsettled).collect();
        for (day, hash) in settled.iter().zip(summed) {
            if hash.contains_key(WRITTEN) {
                add(&mut total, hash);
            } else {
                to_sum.push(*day);
            }
        }
        // A few days per round trip: a day's 16 hashes may hold thousands of fields each, and
        // each finished day is kept summed as soon as it is read.
        for days in to_sum.chunks(DAYS_PER_READ) {
            let shard_keys: Vec<String> = days
                .iter()
                .flat_map(|day| Shard::all().map(|shard| self.keys.funnel(shard, *day)))
                .collect();
            let mut shards = self.hgetall_many(&shard_keys).await?.into_iter();
            let mut sums = Vec::new();
            for day in days {
                let mut sum = HashMap::new();
                for hash in shards.by_ref().take(usize::from(Shard::COUNT)) {
                    add(&mut sum, hash);
                }
                if *day < unsettled {
                    add(&mut total, sum.clone());
                    sums.push((*day, sum));
                } else {
                    add(&mut total, sum);
                }
            }
            self.keep_day_sums(sums).await;
        }
        total.remove(WRITTEN);
        Ok(total)
    }
}

fn add(total: &mut HashMap<String, u64>, hash: HashMap<String, u64>) {
    for (field, count) in hash {
        *total.entry(field).or_default() += count;
    }
}

impl RedisStore {
    /// HGETALL of each key, in order: one pipeline on a single server, commands sent together
    /// on a cluster (the keys are in many slots).
    async fn hgetall_many(&self, keys: &[String]) -> StoreResult<Vec<HashMap<String, u64>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if self.conn.is_cluster() {
            let reads = keys.iter().map(|key| {
                let mut conn = self.conn();
                async move { Cmd::hgetall(key).query_async(&mut conn).await }
            });
            return self.run(futures_util::future::try_join_all(reads)).await;
        }
        // In pipelines of a bounded size: each must answer within the store timeout.
        let mut hashes = Vec::with_capacity(keys.len());
        for keys in keys.chunks(KEYS_PER_PIPELINE) {
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.add_command(Cmd::hgetall(key));
            }
            let mut conn = self.conn();
            let part: Vec<HashMap<String, u64>> = self.run(pipe.query_async(&mut conn)).await?;
            hashes.extend(part);
        }
        Ok(hashes)
    }

    /// Keeps each finished day's sum as one hash; best effort (the next reader sums again).
    async fn keep_day_sums(&self, sums: Vec<(Day, HashMap<String, u64>)>) {
        let writes = sums.into_iter().map(|(day, sum)| {
            let key = self.keys.funnel_day(day);
            let mut fields: Vec<(String, u64)> = sum.into_iter().collect();
            fields.push((WRITTEN.to_owned(), 1));
            let mut pipe = redis::pipe();
            pipe.add_command(Cmd::hset_multiple(&key, &fields))
                .ignore()
                .add_command(Cmd::pexpire_at(&key, day.expire_at_millis()))
                .ignore();
            let mut conn = self.conn();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        if let Err(e) = self.run(futures_util::future::try_join_all(writes)).await {
            tracing::warn!(error = %e, "could not keep the funnel's day sums");
        }
    }
}
