//! Moving data written by versions before shards (SPEC §13) into the shard layout: a session's
//! keys were tagged `{s:<id>}`, a link's `{l:<id>}`. Each such key is copied to its new name
//! (`DUMP`, `RESTORE` with its remaining TTL) and then deleted. Safe to run on several
//! replicas at once and to run again: a key already at its new name is never overwritten (the
//! new one is the newer), and a key another run moved is simply gone. The old single outbox
//! stream is not moved: the delivery loop reads it until it is empty (`outbox/mod.rs`).

use redis::Value;

use super::RedisStore;
use crate::domain::ids::{LinkId, SessionId};
use crate::store::{StoreError, StoreResult};

/// What [`Keys::layout`](crate::store::Keys::layout) holds once nothing is left to move.
const LAYOUT: &str = "shards";

/// How far a migration went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Migration {
    /// Keys of the old layout found.
    pub found: u64,
    /// Of those, moved by this run (the others were moved by another run meanwhile, already
    /// had a newer key at their new name, or expired).
    pub moved: u64,
}

impl RedisStore {
    /// At start-up: moves the keys of the layout before shards unless a run already finished
    /// (the layout key says so); returns what it did, or none when there was nothing to do.
    pub async fn migrate_keys_once(&self) -> StoreResult<Option<Migration>> {
        let mut conn = self.conn();
        let layout: Option<String> = self
            .run(redis::Cmd::get(self.keys.layout()).query_async(&mut conn))
            .await?;
        if layout.as_deref() == Some(LAYOUT) {
            return Ok(None);
        }
        self.migrate_keys(&|_| {}).await.map(Some)
    }

    /// Moves every key of the layout before shards (`belvo-bff migrate-keys`), calling
    /// `progress` after each page of keys, then records the layout.
    pub async fn migrate_keys(
        &self,
        progress: &(dyn Fn(Migration) + Sync),
    ) -> StoreResult<Migration> {
        let mut done = Migration::default();
        let nodes = self.conn.scan_nodes().await.map_err(StoreError::from)?;
        let pattern = format!("{}:{{[sl]:*", glob_escape(self.keys.prefix()));
        for node in &nodes {
            let mut cursor = 0;
            loop {
                let (next, keys) = self
                    .run(self.conn.scan_page(node, cursor, &pattern))
                    .await?;
                for old in &keys {
                    let Some(new) = self.new_name(old) else {
                        continue;
                    };
                    done.found += 1;
                    if self.move_key(old, &new).await? {
                        done.moved += 1;
                    }
                }
                progress(done);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        let mut conn = self.conn();
        self.run(redis::Cmd::set(self.keys.layout(), LAYOUT).query_async::<()>(&mut conn))
            .await?;
        Ok(done)
    }

    /// The shard-layout name of a key of the layout before shards (`<prefix>:{s:<id>}:session`
    /// and so on), or none for any other key.
    fn new_name(&self, old: &str) -> Option<String> {
        let rest = old.strip_prefix(self.keys.prefix())?.strip_prefix(":{")?;
        let (tag, suffix) = rest.split_once("}:")?;
        let keys = &self.keys;
        match tag.split_once(':')? {
            ("s", id) => {
                let id = SessionId::parse(id).ok()?;
                match suffix {
                    "session" => Some(keys.session(&id)),
                    "renewing" => Some(keys.renewal(&id)),
                    "timeline" => Some(keys.timeline(&id)),
                    _ => None,
                }
            }
            ("l", id) => {
                let id = LinkId::parse(id).ok()?;
                match suffix {
                    "link" => Some(keys.link(&id)),
                    "timeline" => Some(keys.link_timeline(&id)),
                    "webhook-ids" => Some(keys.link_webhook_ids(&id)),
                    "health-history" => Some(keys.link_health_history(&id)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Copies `old` to `new` with its remaining TTL unless `new` exists, then deletes `old`;
    /// whether this call copied it.
    async fn move_key(&self, old: &str, new: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let (dump, ttl): (Value, i64) = self
            .run(
                redis::pipe()
                    .cmd("DUMP")
                    .arg(old)
                    .cmd("PTTL")
                    .arg(old)
                    .query_async(&mut conn),
            )
            .await?;
        // Gone (moved by another run, or expired) or about to expire: nothing to keep.
        let Value::BulkString(payload) = dump else {
            return Ok(false);
        };
        if ttl == 0 || ttl < -1 {
            return Ok(false);
        }
        let mut restore = redis::cmd("RESTORE");
        restore.arg(new).arg(ttl.max(0)).arg(payload);
        let copied = match self.run(restore.query_async::<()>(&mut conn)).await {
            Ok(()) => true,
            // Already at its new name: written since (newer), or copied by another run.
            Err(StoreError::Unavailable(e)) if e.contains("BUSYKEY") => false,
            Err(e) => return Err(e),
        };
        self.run(redis::Cmd::del(old).query_async::<()>(&mut conn))
            .await?;
        Ok(copied)
    }
}

/// `text` with the characters SCAN's MATCH treats specially escaped.
fn glob_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}
