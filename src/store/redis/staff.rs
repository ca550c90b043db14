//! [`StaffStore`] on Redis. Console sessions are strings with a TTL keyed by the cookie's hash;
//! the audit log a capped list; branding a hash of current versions plus a capped history list per
//! product, all under one hash tag so a save (check, write, keep, announce) is one script.

use std::time::Duration;

use async_trait::async_trait;

use redis::AsyncCommands;
use tokio::sync::broadcast;

use super::RedisStore;
use crate::domain::branding_version::{BrandingVersion, SaveOutcome};
use crate::domain::ids::ProductName;
use crate::domain::staff::{AuditEntry, SessionTokenHash, StaffSession};
use crate::store::lua;
use crate::store::redis_connection::forward_channel;
use crate::store::staff::{AuditLog, StaffStore, MAX_AUDIT, MAX_BRANDING_VERSIONS};
use crate::store::{StoreError, StoreResult};

/// This replica's end of the branding channel.
#[derive(Clone)]
pub(super) struct BrandingNotifier(broadcast::Sender<()>);

impl BrandingNotifier {
    /// Subscribes to `channel` (reconnecting as needed, moving to the next of `nodes` when one
    /// fails: a cluster delivers PUBLISH on every node) until the store is dropped.
    pub(super) fn start(nodes: Vec<redis::Client>, channel: String) -> Self {
        let (sender, _) = broadcast::channel(16);
        // Every save, and every (re)subscription: anything saved while this replica was not
        // listening is picked up by the reload that follows.
        tokio::spawn(forward_channel(nodes, channel, sender.downgrade(), |_| {
            Some(())
        }));
        Self(sender)
    }
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, raw: &str) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::corrupt(key, e))
}

fn encode(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("staff records serialise")
}

#[async_trait]
impl StaffStore for RedisStore {
    async fn put_staff_session(
        &self,
        id: &SessionTokenHash,
        session: &StaffSession,
        ttl: Duration,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let key = self.keys.staff_session(id);
        self.run(conn.pset_ex::<_, _, ()>(key, encode(session), ttl.as_millis() as u64))
            .await
    }

    async fn staff_session(&self, id: &SessionTokenHash) -> StoreResult<Option<StaffSession>> {
        let mut conn = self.conn();
        let key = self.keys.staff_session(id);
        let raw: Option<String> = self.run(conn.get(&key)).await?;
        raw.as_deref().map(|raw| decode(&key, raw)).transpose()
    }

    async fn delete_staff_session(&self, id: &SessionTokenHash) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.del::<_, ()>(self.keys.staff_session(id)))
            .await
    }

    async fn record_audit(&self, log: AuditLog, entry: &AuditEntry) -> StoreResult<()> {
        let key = self.keys.audit_log(log);
        let mut pipe = redis::pipe();
        pipe.lpush(&key, encode(entry))
            .ignore()
            .ltrim(&key, 0, MAX_AUDIT as isize - 1)
            .ignore();
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    async fn audit_log(&self, log: AuditLog, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let mut conn = self.conn();
        let key = self.keys.audit_log(log);
        let raw: Vec<String> = self.run(conn.lrange(&key, 0, limit as isize - 1)).await?;
        raw.iter().map(|r| decode(&key, r)).collect()
    }

    async fn current_branding(&self) -> StoreResult<Vec<BrandingVersion>> {
        let mut conn = self.conn();
        let key = self.keys.branding_current();
        let raw: Vec<(String, String)> = self.run(conn.hgetall(&key)).await?;
        raw.iter().map(|(_, v)| decode(&key, v)).collect()
    }

    async fn save_branding(&self, version: &BrandingVersion) -> StoreResult<SaveOutcome> {
        let mut conn = self.conn();
        let mut invocation = lua::SAVE_BRANDING.prepare_invoke();
        invocation
            .key(self.keys.branding_current())
            .key(self.keys.branding_history(&version.product))
            .arg(version.product.as_str())
            .arg(version.version)
            .arg(encode(version))
            .arg(self.keys.branding_channel())
            .arg(MAX_BRANDING_VERSIONS);
        let reply: i64 = self.run(invocation.invoke_async(&mut conn)).await?;
        Ok(match reply {
            -1 => SaveOutcome::Saved,
            current => SaveOutcome::Conflict {
                current: current.max(0) as u64,
            },
        })
    }

    async fn branding_history(
        &self,
        product: &ProductName,
        limit: usize,
    ) -> StoreResult<Vec<BrandingVersion>> {
        let mut conn = self.conn();
        let key = self.keys.branding_history(product);
        let raw: Vec<String> = self.run(conn.lrange(&key, 0, limit as isize - 1)).await?;
        raw.iter().map(|r| decode(&key, r)).collect()
    }

    fn branding_changes(&self) -> broadcast::Receiver<()> {
        self.branding.0.subscribe()
    }
}
