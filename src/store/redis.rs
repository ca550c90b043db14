//! Redis implementation: one command connection (a single server or a cluster, see
//! [`RedisConnection`]), one pub/sub connection per replica for change notifications, Lua
//! scripts for the callback transition and the webhook record.
//!
//! Every key of one script or one pipeline shares a hash tag, so it stays in one cluster slot.
//! The one write that spans two slots — a success callback also claims its link — runs as one
//! script on a single server and as two on a cluster (see `redis/apply.rs`).
//!
//! A status read of a linked session needs the session hash and the link hash, in two slots.
//! A session names its link once and for good, so the store remembers which link each session
//! named (a bounded map of ids, nothing else) and reads both hashes at once from then on: one
//! pipeline on a single server, two commands sent together on a cluster.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, Cmd};
use tokio::sync::broadcast;

mod apply;
mod staff;

use super::lua;
use super::redis_connection::{forward_channel, RedisConnection, ThreadConnections};
use super::{Durability, Keys, Retention, SessionStore, SessionWithLink, StoreError, StoreResult};
use crate::domain::external_id::ExternalId;
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{
    Applied, NewSession, Session, Transition, MAX_EVENTS, SESSION_FIELDS,
};
use crate::domain::webhook::{
    LinkClaim, LinkState, WebhookApplied, WebhookUpdate, MAX_WEBHOOK_IDS,
};

/// The most sessions kept in a user's index.
const MAX_USER_SESSIONS: usize = 200;

/// The most session → link pairs remembered for status reads (about 100 bytes each). A session
/// not remembered costs one more round trip on its next read, nothing else.
const LINK_HINTS: usize = 65_536;

#[derive(Clone)]
pub struct RedisStore {
    conn: RedisConnection,
    /// Each request-serving thread's own connection, once made (one server only, and not when
    /// writes wait for replicas: `WAIT` counts the writes of the connection it is sent on).
    own: Option<Arc<ThreadConnections>>,
    keys: Keys,
    retention: Retention,
    durability: Durability,
    timeout: Duration,
    changes: broadcast::Sender<SessionId>,
    /// The link each recently read session named (ids only: never stale, as a session names
    /// its link once), so the next read fetches both hashes at once.
    link_hints: Arc<quick_cache::sync::Cache<SessionId, LinkId>>,
    /// Saved-branding announcements (`redis/staff.rs`).
    branding: staff::BrandingNotifier,
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl RedisStore {
    /// Connects to the Redis server at `url`. When it does not answer within `timeout` the
    /// store is made anyway: every command fails as unavailable (503) until a background task
    /// has connected. A `url` that is not a Redis URL is an error.
    pub async fn connect(
        url: &str,
        keys: Keys,
        retention: Retention,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        Self::connect_durable(url, keys, retention, Durability::default(), timeout).await
    }

    /// As [`RedisStore::connect`], waiting for replica acknowledgements where `durability` asks.
    pub async fn connect_durable(
        url: &str,
        keys: Keys,
        retention: Retention,
        durability: Durability,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let urls = [url.to_owned()];
        let (conn, nodes) = RedisConnection::connect_or_defer(&urls, false, timeout).await?;
        Ok(Self::with_connection(
            conn, nodes, keys, retention, durability, timeout,
        ))
    }

    /// Connects to the Redis Cluster that `urls` (some or all of its nodes) belong to.
    pub async fn connect_cluster(
        urls: &[String],
        keys: Keys,
        retention: Retention,
        durability: Durability,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let (conn, nodes) = RedisConnection::connect_or_defer(urls, true, timeout).await?;
        Ok(Self::with_connection(
            conn, nodes, keys, retention, durability, timeout,
        ))
    }

    fn with_connection(
        conn: RedisConnection,
        nodes: Vec<redis::Client>,
        keys: Keys,
        retention: Retention,
        durability: Durability,
        timeout: Duration,
    ) -> Self {
        let (changes, _) = broadcast::channel(1024);
        let own = match (&conn, nodes.first()) {
            (RedisConnection::Single(_), Some(client)) if durability.replicas == 0 => {
                Some(Arc::new(ThreadConnections::new(client.clone(), timeout)))
            }
            _ => None,
        };
        let branding = staff::BrandingNotifier::start(nodes.clone(), keys.branding_channel());
        // Each announced session id, to this replica's waiters.
        tokio::spawn(forward_channel(
            nodes,
            keys.events_channel(),
            changes.downgrade(),
            |payload| payload.as_deref().and_then(|s| SessionId::parse(s).ok()),
        ));
        Self {
            conn,
            own,
            keys,
            retention,
            durability,
            timeout,
            changes,
            link_hints: Arc::new(quick_cache::sync::Cache::new(LINK_HINTS)),
            branding,
        }
    }

    /// Waits until the configured number of replicas has the writes made so far on this
    /// connection (`WAIT`); fewer in time is "unavailable", so the caller answers 503.
    async fn replicated(&self) -> StoreResult<()> {
        let Durability { replicas, timeout } = self.durability;
        if replicas == 0 {
            return Ok(());
        }
        let mut conn = self.conn();
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(timeout.as_millis() as u64);
        let wait = cmd.query_async::<u32>(&mut conn);
        let acked = match tokio::time::timeout(self.timeout + timeout, wait).await {
            Ok(result) => result?,
            Err(_) => 0,
        };
        if acked < replicas {
            tracing::warn!(acked, replicas, "write not acknowledged by enough replicas");
            return Err(StoreError::Unavailable(format!(
                "{acked} of {replicas} replicas acknowledged the write"
            )));
        }
        Ok(())
    }

    /// The connection to send commands on: this thread's own when it has one.
    fn conn(&self) -> RedisConnection {
        self.own
            .as_ref()
            .and_then(|own| own.get())
            .unwrap_or_else(|| self.conn.clone())
    }

    /// Reads a session's named fields (HMGET): HGETALL would also bring every dedupe marker back.
    fn read_session(&self, id: &SessionId) -> Cmd {
        Cmd::hmget(self.keys.session(id), SESSION_FIELDS)
    }

    /// Runs one Redis operation with the store's timeout; any failure means "unavailable".
    async fn run<T>(&self, op: impl Future<Output = redis::RedisResult<T>>) -> StoreResult<T> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis command failed");
                crate::metrics::redis_error("command");
                Err(e.into())
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.timeout, "redis command timed out");
                crate::metrics::redis_error("timeout");
                Err(StoreError::Unavailable("timed out".into()))
            }
        }
    }

    /// Writes that need not be atomic together, one group per hash slot. On a single server
    /// they go as one pipeline (one round trip); on a cluster, where a pipeline must stay in
    /// one slot, as one pipeline per group, sent at the same time.
    async fn write_by_slot<const N: usize>(&self, groups: [Vec<Cmd>; N]) -> StoreResult<()> {
        let pipeline = |commands: &mut dyn Iterator<Item = Cmd>| {
            let mut pipe = redis::pipe();
            for command in commands {
                pipe.add_command(command).ignore();
            }
            pipe
        };
        if !self.conn.is_cluster() {
            let pipe = pipeline(&mut groups.into_iter().flatten());
            let mut conn = self.conn();
            return self.run(pipe.query_async::<()>(&mut conn)).await;
        }
        let writes = groups.into_iter().map(|group| {
            let pipe = pipeline(&mut group.into_iter());
            let mut conn = self.conn();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        self.run(futures_util::future::try_join_all(writes))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let key = self.keys.session(&session.id);
        let ttl = self.retention.session_ttl.as_millis() as i64;
        let index = self.keys.user_sessions(&session.owner);
        self.write_by_slot([
            vec![
                Cmd::hset_multiple(&key, &session.to_fields()),
                Cmd::pexpire(&key, ttl),
            ],
            vec![
                Cmd::zadd(&index, session.id.to_string(), session.created_at),
                Cmd::zremrangebyrank(&index, 0, -(MAX_USER_SESSIONS as isize) - 1),
                Cmd::pexpire(&index, ttl),
            ],
        ])
        .await
    }

    async fn user_sessions(&self, owner: &ExternalId, limit: usize) -> StoreResult<Vec<SessionId>> {
        let mut conn = self.conn();
        let ids: Vec<String> = self
            .run(conn.zrevrange(self.keys.user_sessions(owner), 0, limit as isize - 1))
            .await?;
        Ok(ids
            .iter()
            .filter_map(|s| SessionId::parse(s).ok())
            .collect())
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let mut conn = self.conn();
        let values: Vec<Option<String>> = self
            .run(self.read_session(id).query_async(&mut conn))
            .await?;
        session_from_values(values)
    }

    async fn session_with_link(&self, id: &SessionId) -> StoreResult<Option<SessionWithLink>> {
        let Some(link) = self.link_hints.get(id) else {
            // The first read of this session here: learn which link it names, if any.
            let Some(session) = self.session(id).await? else {
                return Ok(None);
            };
            let link = match session.link_id {
                Some(link_id) => {
                    self.link_hints.insert(*id, link_id);
                    self.link(&link_id).await?
                }
                None => None,
            };
            return Ok(Some(SessionWithLink { session, link }));
        };
        let read_session = self.read_session(id);
        let read_link = Cmd::hgetall(self.keys.link(&link));
        let (values, fields): (Vec<Option<String>>, HashMap<String, String>) =
            if self.conn.is_cluster() {
                // Two slots, likely two nodes: both commands at once.
                let (mut a, mut b) = (self.conn(), self.conn());
                self.run(futures_util::future::try_join(
                    read_session.query_async(&mut a),
                    read_link.query_async(&mut b),
                ))
                .await?
            } else {
                let mut pipe = redis::pipe();
                pipe.add_command(read_session).add_command(read_link);
                let mut conn = self.conn();
                self.run(pipe.query_async(&mut conn)).await?
            };
        let Some(session) = session_from_values(values)? else {
            self.link_hints.remove(id);
            return Ok(None);
        };
        if session.link_id != Some(link) {
            // Never expected (a session names its link once), but never show another link.
            self.link_hints.remove(id);
            return self.session_with_link(id).await;
        }
        let link = (!fields.is_empty()).then(|| LinkState::from_fields(&fields));
        Ok(Some(SessionWithLink { session, link }))
    }

    async fn apply(&self, id: &SessionId, t: &Transition) -> StoreResult<Applied> {
        self.apply_event(id, t).await
    }

    async fn timeline(&self, id: &SessionId) -> StoreResult<Vec<serde_json::Value>> {
        let mut conn = self.conn();
        let raw: Vec<String> = self.run(conn.lrange(self.keys.timeline(id), 0, -1)).await?;
        Ok(raw
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect())
    }

    async fn record_webhook(&self, update: &WebhookUpdate) -> StoreResult<WebhookApplied> {
        let entry = update.timeline_entry.to_string();
        let (resource, state) = match &update.resource {
            Some((resource, state)) => (
                resource.as_str(),
                serde_json::to_string(state).expect("resource states serialise"),
            ),
            None => ("", String::new()),
        };
        let mut invocation = lua::RECORD_WEBHOOK.prepare_invoke();
        invocation
            .key(self.keys.link(&update.link))
            .key(self.keys.link_timeline(&update.link))
            .key(self.keys.link_webhook_ids(&update.link))
            .arg(&update.webhook_id)
            .arg(update.now)
            .arg(resource)
            .arg(state)
            .arg(
                update
                    .external_id
                    .as_ref()
                    .map(|e| e.as_str())
                    .unwrap_or(""),
            )
            .arg(&entry)
            .arg(self.keys.events_channel())
            .arg(self.retention.session_ttl.as_millis() as u64)
            .arg(MAX_EVENTS)
            .arg(MAX_WEBHOOK_IDS);
        let mut conn = self.conn();
        let reply: Vec<String> = self.run(invocation.invoke_async(&mut conn)).await?;
        let session = reply.get(1).and_then(|s| SessionId::parse(s).ok());
        match reply.first().map(String::as_str) {
            Some("duplicate") => {
                // The first delivery may have been refused for want of replicas: wait again.
                self.replicated().await?;
                Ok(WebhookApplied::Duplicate)
            }
            Some("mismatch") => Ok(WebhookApplied::Mismatch),
            Some("recorded") => {
                self.replicated().await?;
                Ok(WebhookApplied::Recorded { session })
            }
            other => Err(StoreError::corrupt(
                self.keys.link(&update.link),
                format!("unexpected record_webhook.lua reply {other:?}"),
            )),
        }
    }

    async fn link(&self, link: &LinkId) -> StoreResult<Option<LinkState>> {
        let mut conn = self.conn();
        let fields: HashMap<String, String> = self.run(conn.hgetall(self.keys.link(link))).await?;
        Ok((!fields.is_empty()).then(|| LinkState::from_fields(&fields)))
    }

    async fn link_timeline(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>> {
        let mut conn = self.conn();
        let raw: Vec<String> = self
            .run(conn.lrange(self.keys.link_timeline(link), 0, -1))
            .await?;
        Ok(raw
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect())
    }

    async fn set_link_verified(
        &self,
        link: &LinkId,
        session: &SessionId,
        verified: bool,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let key = self.keys.link(link);
        let flag = if verified { "1" } else { "0" };
        self.run(
            lua::SET_LINK_VERIFIED
                .key(key)
                .arg(flag)
                .arg(self.keys.events_channel())
                .arg(session.to_string())
                .invoke_async::<i64>(&mut conn),
        )
        .await
        .map(|_| ())
    }

    async fn claim_link(&self, link: &LinkId, claim: &LinkClaim) -> StoreResult<bool> {
        let ttl = self.retention.session_ttl.as_millis() as u64;
        let mut conn = self.conn();
        let claimed: i64 = self
            .run(
                lua::CLAIM_LINK
                    .key(self.keys.link(link))
                    .arg(claim.owner.as_str())
                    .arg(claim.product.as_str())
                    .arg(&claim.institution)
                    .arg(ttl)
                    .invoke_async(&mut conn),
            )
            .await?;
        if claimed == 0 {
            return Ok(false);
        }
        let list = self.keys.user_links(&claim.owner);
        let mut pipe = redis::pipe();
        pipe.sadd(&list, link.to_string())
            .ignore()
            .pexpire(&list, ttl as i64)
            .ignore();
        self.run(pipe.query_async::<()>(&mut conn)).await?;
        Ok(true)
    }

    async fn user_links(&self, owner: &ExternalId) -> StoreResult<Vec<LinkId>> {
        let mut conn = self.conn();
        let ids: Vec<String> = self.run(conn.smembers(self.keys.user_links(owner))).await?;
        let mut links: Vec<LinkId> = ids.iter().filter_map(|s| LinkId::parse(s).ok()).collect();
        links.sort_by_key(|l| l.to_string());
        Ok(links)
    }

    async fn count_attempt(&self, subject: &str, window: Duration) -> StoreResult<(u64, Duration)> {
        let mut conn = self.conn();
        let (count, ttl): (u64, i64) = self
            .run(
                lua::COUNT_ATTEMPT
                    .key(self.keys.attempts(subject))
                    .arg(window.as_millis() as u64)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok((count, Duration::from_millis(ttl.max(0) as u64)))
    }

    async fn count_token_request(
        &self,
        user: &ExternalId,
        windows: [Duration; 2],
    ) -> StoreResult<[(u64, Duration); 2]> {
        let mut invocation = lua::COUNT_ATTEMPTS.prepare_invoke();
        for window in windows {
            invocation.key(self.keys.token_requests(user, window.as_millis()));
        }
        for window in windows {
            invocation.arg(window.as_millis() as u64);
        }
        let mut conn = self.conn();
        let reply: Vec<i64> = self.run(invocation.invoke_async(&mut conn)).await?;
        let window = |i: usize| -> (u64, Duration) {
            let count = reply.get(2 * i).copied().unwrap_or(0).max(0) as u64;
            let left = reply.get(2 * i + 1).copied().unwrap_or(0).max(0) as u64;
            (count, Duration::from_millis(left))
        };
        Ok([window(0), window(1)])
    }

    async fn count_distinct(
        &self,
        subject: &str,
        member: &str,
        window: Duration,
        max: u64,
    ) -> StoreResult<(bool, Duration)> {
        let mut invocation = lua::COUNT_DISTINCT.prepare_invoke();
        invocation
            .key(self.keys.distinct(subject))
            .arg(member)
            .arg(window.as_millis() as u64)
            .arg(max);
        let mut conn = self.conn();
        let (allowed, ttl): (i64, i64) = self.run(invocation.invoke_async(&mut conn)).await?;
        Ok((allowed == 1, Duration::from_millis(ttl.max(0) as u64)))
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map(|_| ())
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionId> {
        self.changes.subscribe()
    }
}

/// A session from its [`SESSION_FIELDS`] values, `None` when it has none (unknown or expired).
fn session_from_values(values: Vec<Option<String>>) -> StoreResult<Option<Session>> {
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let field = |name: &str| {
        let at = SESSION_FIELDS.iter().position(|f| *f == name)?;
        values.get(at)?.as_deref()
    };
    Ok(Some(Session::from_lookup(field)?))
}
