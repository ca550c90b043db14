//! One outbox stream's operations (Redis streams and consumer groups), for `mod.rs` to run on
//! every shard's stream. Retries and takeovers both go through `XPENDING` (read-only, with
//! `IDLE`) and then `XCLAIM` with a minimum idle time, which only one consumer can win for an
//! entry. Entry ids here are the stream's own (`<ms>-<n>`).

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Value;

use super::super::RedisStore;
use crate::store::{OutboxEntry, StoreError, StoreResult};

/// About how many dead deliveries are kept per dead stream.
const MAX_DEAD: usize = 10_000;

pub(super) fn text(value: &Value) -> Option<String> {
    redis::from_redis_value_ref::<String>(value).ok()
}

pub(super) fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

/// `[[id, [field, value, ...]], ...]` (XCLAIM, XRANGE, one stream of XREADGROUP); entries
/// whose fields are nil (deleted) are left out.
pub(super) fn entries(value: &Value, deliveries: impl Fn(&str) -> u64) -> Vec<OutboxEntry> {
    items(value)
        .iter()
        .filter_map(|entry| {
            let parts = items(entry);
            let id = text(parts.first()?)?;
            let pairs = items(parts.get(1)?);
            if pairs.is_empty() {
                return None;
            }
            let fields = pairs
                .chunks(2)
                .filter_map(|kv| Some((text(kv.first()?)?, text(kv.get(1)?)?)))
                .collect();
            let deliveries = deliveries(&id);
            Some(OutboxEntry {
                id,
                fields,
                deliveries,
            })
        })
        .collect()
}

/// `XREADGROUP` of up to `count` new entries from each stream at `keys` (all in one slot, or
/// on one server).
pub(super) fn read_command(
    keys: &[impl redis::ToRedisArgs],
    group: &str,
    consumer: &str,
    count: usize,
) -> redis::Cmd {
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS");
    for key in keys {
        cmd.arg(key);
    }
    for _ in keys {
        cmd.arg(">");
    }
    cmd
}

/// An `XREADGROUP` reply as each stream's key and new entries (streams without any are left
/// out by Redis). RESP2: `[[stream, entries], ...]`; RESP3: `{stream: entries, ...}`.
pub(super) fn entries_by_stream(reply: &Value) -> Vec<(String, Vec<OutboxEntry>)> {
    let streams: Vec<(&Value, &Value)> = match reply {
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        other => items(other)
            .iter()
            .filter_map(|s| Some((items(s).first()?, items(s).get(1)?)))
            .collect(),
    };
    streams
        .into_iter()
        .filter_map(|(key, read)| Some((text(key)?, entries(read, |_| 1))))
        .collect()
}

impl RedisStore {
    pub(super) async fn query(&self, cmd: &redis::Cmd) -> StoreResult<Value> {
        let mut conn = self.conn();
        self.run(cmd.query_async::<Value>(&mut conn)).await
    }

    /// Makes `group` on the stream at `key` (`create`: the stream too; else a missing stream
    /// is left missing, and that is no error).
    pub(super) async fn stream_join(
        &self,
        key: &str,
        group: &str,
        create: bool,
    ) -> StoreResult<()> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE").arg(key).arg(group).arg("0");
        if create {
            cmd.arg("MKSTREAM");
        }
        let mut conn = self.conn();
        match tokio::time::timeout(self.timeout, cmd.query_async::<Value>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.code() == Some("BUSYGROUP") => Ok(()),
            Ok(Err(e)) if !create && missing(&e.to_string()) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(StoreError::Unavailable("timed out".into())),
        }
    }

    pub(super) async fn stream_read(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let reply = self
            .query(&read_command(&[key], group, consumer, count))
            .await?;
        Ok(entries_by_stream(&reply)
            .into_iter()
            .flat_map(|(_, entries)| entries)
            .collect())
    }

    pub(super) async fn stream_claim_due(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        count: usize,
        min_idle: Duration,
        due: &(dyn Fn(u64) -> Duration + Send + Sync),
    ) -> StoreResult<Vec<OutboxEntry>> {
        const PAGE: usize = 100;
        const MAX_PAGES: usize = 10;
        let mut claimed = Vec::new();
        let mut start = "-".to_owned();
        for _ in 0..MAX_PAGES {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(key)
                .arg(group)
                .arg("IDLE")
                .arg(min_idle.as_millis() as u64)
                .arg(&start)
                .arg("+")
                .arg(PAGE);
            let pending = self.query(&cmd).await?;
            let rows = items(&pending);
            for row in rows {
                let row = items(row);
                let (Some(id), Some(idle), Some(attempts)) = (
                    row.first().and_then(text),
                    row.get(2)
                        .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok()),
                    row.get(3)
                        .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok()),
                ) else {
                    continue;
                };
                start = format!("({id}");
                let wait = due(attempts).max(min_idle).as_millis() as u64;
                if idle < wait || claimed.len() >= count {
                    continue;
                }
                // Only one consumer wins: the claim resets the idle time the others compare.
                let mut claim = redis::cmd("XCLAIM");
                claim.arg(key).arg(group).arg(consumer).arg(wait).arg(&id);
                let reply = self.query(&claim).await?;
                claimed.extend(entries(&reply, |_| attempts + 1));
            }
            if rows.len() < PAGE || claimed.len() >= count {
                break;
            }
        }
        Ok(claimed)
    }

    pub(super) async fn stream_ack(&self, key: &str, group: &str, id: &str) -> StoreResult<()> {
        let mut cmd = redis::cmd("XACK");
        cmd.arg(key).arg(group).arg(id);
        self.query(&cmd).await.map(|_| ())
    }

    pub(super) async fn stream_retry_later(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        id: &str,
    ) -> StoreResult<()> {
        // Resets the idle time (the retry delay counts from now) without counting an attempt.
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(key)
            .arg(group)
            .arg(consumer)
            .arg(0)
            .arg(id)
            .arg("JUSTID");
        self.query(&cmd).await.map(|_| ())
    }

    /// Records `entry` (its public id in `event_id`) in the dead stream at `dead` and forgets
    /// it (`stream_id` in the stream at `key`) in one step: both keys are in one slot.
    pub(super) async fn stream_dead(
        &self,
        (key, dead): (&str, &str),
        group: &str,
        (entry, stream_id): (&OutboxEntry, &str),
        answer: &str,
    ) -> StoreResult<()> {
        let mut add = redis::cmd("XADD");
        add.arg(dead)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_DEAD)
            .arg("*")
            .arg("group")
            .arg(group)
            .arg("event_id")
            .arg(&entry.id)
            .arg("attempts")
            .arg(entry.deliveries)
            .arg("answer")
            .arg(answer);
        for (field, value) in &entry.fields {
            add.arg(field).arg(value);
        }
        let mut ack = redis::cmd("XACK");
        ack.arg(key).arg(group).arg(stream_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .add_command(add)
            .ignore()
            .add_command(ack)
            .ignore();
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    pub(super) async fn stream_trim(&self, key: &str, groups: &[String]) -> StoreResult<u64> {
        let mut info = redis::cmd("XINFO");
        info.arg("GROUPS").arg(key);
        let info = match self.query(&info).await {
            Ok(info) => info,
            // No stream yet: nothing to trim.
            Err(StoreError::Unavailable(e)) if missing(&e) => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut last_delivered = BTreeMap::new();
        for group in items(&info) {
            let fields: BTreeMap<String, &Value> = match group {
                Value::Map(pairs) => pairs
                    .iter()
                    .filter_map(|(k, v)| Some((text(k)?, v)))
                    .collect(),
                other => items(other)
                    .chunks(2)
                    .filter_map(|kv| Some((text(kv.first()?)?, kv.get(1)?)))
                    .collect(),
            };
            if let (Some(name), Some(last)) = (
                fields.get("name").and_then(|v| text(v)),
                fields.get("last-delivered-id").and_then(|v| text(v)),
            ) {
                last_delivered.insert(name, last);
            }
        }
        // The oldest entry some group still needs: its oldest pending one, or past its last.
        let mut keep_from: Option<(u64, u64)> = None;
        for group in groups {
            let Some(last) = last_delivered.get(group) else {
                return Ok(0);
            };
            let mut summary = redis::cmd("XPENDING");
            summary.arg(key).arg(group);
            let summary = self.query(&summary).await?;
            let oldest_pending = items(&summary).get(1).and_then(text);
            let needed = oldest_pending.unwrap_or_else(|| last.clone());
            let Some(needed) = parse_id(&needed) else {
                return Ok(0);
            };
            keep_from = Some(keep_from.map_or(needed, |k| k.min(needed)));
        }
        let Some((ms, seq)) = keep_from else {
            return Ok(0);
        };
        let mut trim = redis::cmd("XTRIM");
        trim.arg(key).arg("MINID").arg(format!("{ms}-{seq}"));
        let mut conn = self.conn();
        self.run(trim.query_async::<u64>(&mut conn)).await
    }

    pub(super) async fn stream_undelivered(&self, key: &str, group: &str) -> StoreResult<u64> {
        let mut summary = redis::cmd("XPENDING");
        summary.arg(key).arg(group);
        let summary = self.query(&summary).await?;
        let pending = items(&summary)
            .first()
            .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
            .unwrap_or(0);
        let mut info = redis::cmd("XINFO");
        info.arg("GROUPS").arg(key);
        let info = self.query(&info).await?;
        let lag = items(&info)
            .iter()
            .map(items)
            .find(|g| {
                g.chunks(2).any(|kv| {
                    kv.first().and_then(text).as_deref() == Some("name")
                        && kv.get(1).and_then(text).as_deref() == Some(group)
                })
            })
            .and_then(|g| {
                g.chunks(2)
                    .find(|kv| kv.first().and_then(text).as_deref() == Some("lag"))
                    .and_then(|kv| kv.get(1))
                    .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
            })
            .unwrap_or(0);
        Ok(pending + lag)
    }

    pub(super) async fn stream_oldest_undelivered(
        &self,
        key: &str,
        group: &str,
    ) -> StoreResult<Option<i64>> {
        let mut summary = redis::cmd("XPENDING");
        summary.arg(key).arg(group);
        let summary = self.query(&summary).await?;
        if let Some(held) = items(&summary).get(1).and_then(text) {
            // Held entries are older than any not handed out yet.
            return Ok(parse_id(&held).map(|(ms, _)| ms as i64));
        }
        let mut info = redis::cmd("XINFO");
        info.arg("GROUPS").arg(key);
        let info = self.query(&info).await?;
        let last = items(&info).iter().map(items).find_map(|g| {
            let field = |name: &str| {
                g.chunks(2)
                    .find(|kv| kv.first().and_then(text).as_deref() == Some(name))
                    .and_then(|kv| kv.get(1))
                    .and_then(text)
            };
            (field("name").as_deref() == Some(group))
                .then(|| field("last-delivered-id"))
                .flatten()
        });
        let Some(last) = last else {
            return Ok(None);
        };
        let mut next = redis::cmd("XRANGE");
        next.arg(key)
            .arg(format!("({last}"))
            .arg("+")
            .arg("COUNT")
            .arg(1);
        let next = self.query(&next).await?;
        Ok(entries(&next, |_| 0)
            .first()
            .and_then(|e| parse_id(&e.id))
            .map(|(ms, _)| ms as i64))
    }

    /// The dead stream at `dead`: each entry's id (when it died) and fields, oldest first.
    pub(super) async fn stream_dead_entries(&self, dead: &str) -> StoreResult<Vec<OutboxEntry>> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(dead).arg("-").arg("+");
        let reply = self.query(&cmd).await?;
        Ok(entries(&reply, |_| 0))
    }
}

/// Whether Redis answered that a stream (or its group) does not exist.
pub(super) fn missing(error: &str) -> bool {
    error.contains("NOGROUP")
        || error.contains("no such key")
        || error.contains("requires the key to exist")
}

/// A stream id `<ms>-<n>`, comparable.
pub(super) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
