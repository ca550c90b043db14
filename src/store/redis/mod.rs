//! Redis implementation, one file per area: one command connection (a single server or a cluster, see
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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::Cmd;
use tokio::sync::broadcast;

mod apply;
mod attempts;
mod funnel;
mod health;
mod institutions;
mod links;
mod migrate;
mod outbox;
mod sessions;
mod staff;
mod verify;

pub use migrate::Migration;

use super::redis_connection::{forward_channel, RedisConnection, ThreadConnections};
use super::{Durability, Keys, Retention, StoreError, StoreResult};
use crate::domain::ids::{LinkId, Platform, SessionId};
use crate::domain::shard::Shard;

/// The most sessions kept in a user's index.
const MAX_USER_SESSIONS: usize = 200;

/// The most session → link pairs remembered for status reads (about 100 bytes each). A session
/// not remembered costs one more round trip on its next read, nothing else.
const LINK_HINTS: usize = 65_536;

/// The most recorded callback events remembered as replay hints (about 40 bytes each). An event
/// not remembered costs its replay the full `apply_event.lua`, nothing else.
const REPLAY_HINTS: usize = 65_536;

/// The most finished sessions remembered (about 30 bytes each). A session not remembered costs
/// its next new event the full `apply_event.lua`, nothing else.
const FINISHED_HINTS: usize = 65_536;
/// The most links remembered as settled (`record_webhook.lua`: every fetch resource of the
/// link's product ready; about 40 bytes each). A link not remembered costs its next
/// webhook a few more arguments and fields, nothing else.
const SETTLED_HINTS: usize = 65_536;

/// The replay hints' cache. A hint is used soon after it is made (an app retrying its deeplink)
/// or never, so recency is what counts: most of the room goes to new entries, where the cache's
/// default (3% of it, for a workload where what is read again is what was read often) let a few
/// thousand new sessions push out the hints of the ones before them.
fn replay_hints() -> quick_cache::sync::Cache<(SessionId, apply::ReplayHint), Platform> {
    let options = quick_cache::OptionsBuilder::new()
        .estimated_items_capacity(REPLAY_HINTS)
        .weight_capacity(REPLAY_HINTS as u64)
        .hot_allocation(0.25)
        .build()
        .expect("the capacities are set");
    quick_cache::sync::Cache::with_options(
        options,
        quick_cache::UnitWeighter,
        quick_cache::DefaultHashBuilder::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    )
}

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
    /// The callback events this process saw recorded on recently called sessions (hashed
    /// fingerprints), so their replays run `replay_event.lua` with a few arguments instead of
    /// `apply_event.lua` with all of them (`redis/apply.rs`). Only a hint: Redis decides.
    replay_hints: Arc<quick_cache::sync::Cache<(SessionId, apply::ReplayHint), Platform>>,
    /// The recently called sessions this process saw finished, with their platform, so a new
    /// event on one (recorded in its timeline, changing nothing) runs `late_event.lua` with a
    /// few arguments (`redis/apply.rs`). Only a hint: Redis decides.
    finished_hints: Arc<quick_cache::sync::Cache<SessionId, Platform>>,
    /// Saved-branding announcements (`redis/staff.rs`).
    branding: staff::BrandingNotifier,
    /// The links this process saw settled (`record_webhook.lua`), so their webhooks go without
    /// the readiness arguments. Only a hint: Redis decides, and a wrong one costs a round trip.
    settled_links: Arc<quick_cache::sync::Cache<LinkId, ()>>,
    /// `record_webhook.lua` with this store's events channel and link retention in front.
    record_webhook: Arc<redis::Script>,
    /// Each shard's outbox stream key, by shard index: the delivery loop names all of them on
    /// every pass, so they are spelled once.
    outbox_keys: Arc<[String]>,
    /// Whether link changes write their outbound events (an endpoint is configured).
    events: bool,
    /// Each product's fetch resources: a link's `link.resources_ready` (SPEC §13).
    fetch_resources: crate::domain::webhook::FetchResources,
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
            |payload| payload.as_deref().and_then(|p| SessionId::parse(p).ok()),
        ));
        let record_webhook = Arc::new(super::lua::record_webhook(
            &keys.events_channel(),
            retention.links_ms().max(0) as u64,
        ));
        let outbox_keys = Shard::all().map(|shard| keys.outbox_of(shard)).collect();
        Self {
            conn,
            own,
            keys,
            retention,
            durability,
            timeout,
            changes,
            link_hints: Arc::new(quick_cache::sync::Cache::new(LINK_HINTS)),
            replay_hints: Arc::new(replay_hints()),
            finished_hints: Arc::new(quick_cache::sync::Cache::new(FINISHED_HINTS)),
            settled_links: Arc::new(quick_cache::sync::Cache::new(SETTLED_HINTS)),
            record_webhook,
            outbox_keys,
            branding,
            events: false,
            fetch_resources: Default::default(),
        }
    }

    /// Link changes write their outbound events (SPEC §13) when `on` (an endpoint is
    /// configured); a session's are asked for per transition.
    pub fn with_events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Each product's fetch resources, so a link's webhooks tell when every one is ready
    /// (none known: never).
    pub fn with_fetch_resources(
        mut self,
        resources: crate::domain::webhook::FetchResources,
    ) -> Self {
        self.fetch_resources = resources;
        self
    }

    /// The outbox stream a change of `link` writes its event to, if events go out: the stream
    /// of the link's shard, in the slot of the link's keys (SPEC §13).
    fn link_outbox(&self, link: &LinkId) -> Option<String> {
        self.events
            .then(|| self.keys.outbox_of(Shard::of_link(link)))
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
        let writes = groups.into_iter().filter(|g| !g.is_empty()).map(|group| {
            let pipe = pipeline(&mut group.into_iter());
            let mut conn = self.conn();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        self.run(futures_util::future::try_join_all(writes))
            .await
            .map(|_| ())
    }
}
