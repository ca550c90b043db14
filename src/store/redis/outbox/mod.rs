//! [`Outbox`] on Redis (SPEC §13): one stream per shard (`Keys::outbox_of`), each event in the
//! stream of the session or link whose change wrote it, and one consumer group per endpoint on
//! every stream. Each operation runs on every stream at once (the cluster spreads them over its
//! nodes; a stream is one key, so no command crosses slots). An event's id names its stream:
//! `sh07-<ms>-<n>` for shard 7, so an acknowledgement goes back to the right one.
//!
//! The single `outbox` stream of the layout before shards is still read, acknowledged and
//! trimmed while it exists (an upgrade delivers what it held, with the `webhook-id`s it had:
//! its ids stay bare `<ms>-<n>`); nothing writes it any more.

mod deliveries;
mod stream;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;

use super::RedisStore;
use crate::domain::shard::Shard;
use crate::store::{Outbox, OutboxEntry, StoreError, StoreResult};
use stream::{missing, parse_id};

/// One outbox stream: a shard's, or the one of the layout before shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutboxStream {
    Shard(Shard),
    Legacy,
}

impl OutboxStream {
    /// Every stream a consumer reads: each shard's, then the old one.
    fn all() -> impl Iterator<Item = Self> {
        Shard::all()
            .map(Self::Shard)
            .chain(std::iter::once(Self::Legacy))
    }

    /// The stream an event id (as [`Self::event_id`] makes it) lives in, and its stream id.
    fn of_event(id: &str) -> (Self, &str) {
        let shard = id.strip_prefix("sh").and_then(|rest| {
            let (n, stream_id) = rest.split_once('-')?;
            let n: u16 = n.parse().ok()?;
            Some((Shard::all().nth(usize::from(n))?, stream_id))
        });
        match shard {
            Some((shard, stream_id)) => (Self::Shard(shard), stream_id),
            None => (Self::Legacy, id),
        }
    }

    /// The id an entry of this stream goes by outside the store (its `webhook-id` is built
    /// from it): unique across streams, which may each hand out the same stream id.
    fn event_id(self, stream_id: &str) -> String {
        match self {
            Self::Shard(shard) => format!("sh{:02}-{stream_id}", shard.index()),
            Self::Legacy => stream_id.to_owned(),
        }
    }
}

impl RedisStore {
    fn stream_key(&self, stream: OutboxStream) -> String {
        match stream {
            OutboxStream::Shard(shard) => self.outbox_keys[usize::from(shard.index())].clone(),
            OutboxStream::Legacy => self.keys.legacy_outbox(),
        }
    }

    fn dead_key(&self, stream: OutboxStream) -> String {
        match stream {
            OutboxStream::Shard(shard) => self.keys.outbox_dead_of(shard),
            OutboxStream::Legacy => self.keys.legacy_outbox_dead(),
        }
    }

    /// Runs `op` on every stream at once; an old stream that is gone (or has no such group)
    /// counts as empty, and is looked for first so that its absence is no failed command.
    async fn on_every_stream<'a, T, F, Fut>(&'a self, op: F) -> StoreResult<Vec<T>>
    where
        T: Default,
        F: Fn(OutboxStream, String) -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>> + 'a,
    {
        let runs = OutboxStream::all().map(|stream| {
            let key = self.stream_key(stream);
            let run = op(stream, key.clone());
            async move {
                if stream == OutboxStream::Legacy {
                    let mut conn = self.conn();
                    let exists = redis::Cmd::exists(&key);
                    if !self.run(exists.query_async::<bool>(&mut conn)).await? {
                        return Ok(T::default());
                    }
                }
                match run.await {
                    Err(StoreError::Unavailable(e))
                        if stream == OutboxStream::Legacy && missing(&e) =>
                    {
                        Ok(T::default())
                    }
                    other => other,
                }
            }
        });
        join_all(runs).await.into_iter().collect()
    }

    /// [`Outbox::outbox_read`] on one server: every shard's stream in one `XREADGROUP`, with
    /// the old stream's `EXISTS` in the same round trip (read after it only while it exists).
    /// The delivery loop reads after every change on any replica, so one command instead of one
    /// per stream is most of what delivering an event costs Redis (issue 19).
    async fn read_one_server(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let keys = &self.outbox_keys;
        let legacy = self.stream_key(OutboxStream::Legacy);
        let mut pipe = redis::pipe();
        pipe.exists(&legacy)
            .add_command(stream::read_command(keys, group, consumer, count));
        let mut conn = self.conn();
        let (legacy_exists, reply): (bool, redis::Value) =
            self.run(pipe.query_async(&mut conn)).await?;
        let mut read = Vec::new();
        for (key, entries) in stream::entries_by_stream(&reply) {
            let shard = keys.iter().position(|k| *k == key);
            if let Some(shard) = shard.and_then(|i| Shard::all().nth(i)) {
                read.extend(Self::named(OutboxStream::Shard(shard), entries));
            }
        }
        if legacy_exists {
            match self.stream_read(&legacy, group, consumer, count).await {
                // Written again by a replica of the version before (a rolling upgrade),
                // without this group: joined now, read next time.
                Err(StoreError::Unavailable(e)) if missing(&e) => {
                    self.stream_join(&legacy, group, false).await?;
                }
                other => read.extend(Self::named(OutboxStream::Legacy, other?)),
            }
        }
        Ok(read)
    }

    /// Names `entries` of `stream` by their event ids.
    fn named(stream: OutboxStream, entries: Vec<OutboxEntry>) -> Vec<OutboxEntry> {
        entries
            .into_iter()
            .map(|e| OutboxEntry {
                id: stream.event_id(&e.id),
                ..e
            })
            .collect()
    }
}

#[async_trait]
impl Outbox for RedisStore {
    async fn outbox_join(&self, group: &str) -> StoreResult<()> {
        self.on_every_stream(|stream, key| async move {
            // The old stream is joined only while it exists: nothing writes it any more.
            self.stream_join(&key, group, stream != OutboxStream::Legacy)
                .await
        })
        .await
        .map(|_| ())
    }

    /// Up to `count` events from each stream.
    async fn outbox_read(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> StoreResult<Vec<OutboxEntry>> {
        if !self.conn.is_cluster() {
            return self.read_one_server(group, consumer, count).await;
        }
        let read = self
            .on_every_stream(|stream, key| async move {
                match self.stream_read(&key, group, consumer, count).await {
                    // The old stream written again by a replica of the version before (a
                    // rolling upgrade), without this group: joined now, read next time.
                    Err(StoreError::Unavailable(e))
                        if stream == OutboxStream::Legacy && missing(&e) =>
                    {
                        self.stream_join(&key, group, false).await?;
                        Ok(Vec::new())
                    }
                    read => Ok(Self::named(stream, read?)),
                }
            })
            .await?;
        Ok(read.into_iter().flatten().collect())
    }

    /// Up to `count` events from each stream.
    async fn outbox_claim_due(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        min_idle: Duration,
        due: &(dyn Fn(u64) -> Duration + Send + Sync),
    ) -> StoreResult<Vec<OutboxEntry>> {
        let claimed = self
            .on_every_stream(|stream, key| async move {
                let claimed = self
                    .stream_claim_due(&key, group, consumer, count, min_idle, due)
                    .await?;
                Ok(Self::named(stream, claimed))
            })
            .await?;
        Ok(claimed.into_iter().flatten().collect())
    }

    async fn outbox_ack(&self, group: &str, id: &str) -> StoreResult<()> {
        let (stream, stream_id) = OutboxStream::of_event(id);
        self.stream_ack(&self.stream_key(stream), group, stream_id)
            .await
    }

    async fn outbox_retry_later(&self, group: &str, consumer: &str, id: &str) -> StoreResult<()> {
        let (stream, stream_id) = OutboxStream::of_event(id);
        self.stream_retry_later(&self.stream_key(stream), group, consumer, stream_id)
            .await
    }

    async fn outbox_dead(&self, group: &str, entry: &OutboxEntry, answer: &str) -> StoreResult<()> {
        let (stream, stream_id) = OutboxStream::of_event(&entry.id);
        let keys = (self.stream_key(stream), self.dead_key(stream));
        self.stream_dead((&keys.0, &keys.1), group, (entry, stream_id), answer)
            .await
    }

    async fn outbox_trim(&self, groups: &[String]) -> StoreResult<u64> {
        let trimmed = self
            .on_every_stream(|_, key| async move { self.stream_trim(&key, groups).await })
            .await?;
        Ok(trimmed.into_iter().sum())
    }

    async fn outbox_undelivered(&self, group: &str) -> StoreResult<u64> {
        let counts = self
            .on_every_stream(|_, key| async move { self.stream_undelivered(&key, group).await })
            .await?;
        Ok(counts.into_iter().sum())
    }

    async fn outbox_oldest_undelivered(&self, group: &str) -> StoreResult<Option<i64>> {
        let oldest = self
            .on_every_stream(
                |_, key| async move { self.stream_oldest_undelivered(&key, group).await },
            )
            .await?;
        Ok(oldest.into_iter().flatten().min())
    }

    /// Every stream's dead entries, oldest death first.
    async fn outbox_dead_entries(&self) -> StoreResult<Vec<BTreeMap<String, String>>> {
        let dead = self
            .on_every_stream(|stream, _| async move {
                self.stream_dead_entries(&self.dead_key(stream)).await
            })
            .await?;
        let mut dead: Vec<OutboxEntry> = dead.into_iter().flatten().collect();
        dead.sort_by_key(|e| parse_id(&e.id));
        Ok(dead.into_iter().map(|e| e.fields).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_names_its_stream() {
        for stream in OutboxStream::all() {
            let id = stream.event_id("1732900000000-3");
            assert_eq!(OutboxStream::of_event(&id), (stream, "1732900000000-3"));
        }
        let shard = Shard::all().nth(7).unwrap();
        assert_eq!(
            OutboxStream::Shard(shard).event_id("5-0"),
            "sh07-5-0",
            "the webhook-id of events already delivered depends on it"
        );
        // Ids of the layout before shards stay as they were.
        assert_eq!(OutboxStream::Legacy.event_id("5-0"), "5-0");
    }
}
