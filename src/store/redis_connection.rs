//! How the Redis store reaches Redis: one server (standalone, a managed endpoint, or whatever
//! fronts a Sentinel-managed primary) through a reconnecting connection manager, or a Redis
//! Cluster through a connection that routes each command to the node owning its slot.
//! Change notifications arrive on a separate pub/sub connection that reconnects by itself.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use futures_util::StreamExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::{socket2::TcpKeepalive, TcpSettings};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::broadcast;

/// A command connection to one server or to a cluster; cheap to clone (both multiplex).
#[derive(Clone)]
pub enum RedisConnection {
    /// Boxed: the manager is twenty times the size of a cluster handle.
    Single(Box<ConnectionManager>),
    Cluster(ClusterConnection),
    /// Redis did not answer at start-up: commands fail at once (the store answers 503) until a
    /// background task has connected, then go to that connection.
    Deferred(Arc<Deferred>),
}

/// The connection a server started without Redis makes once Redis answers.
pub struct Deferred {
    cluster: bool,
    connected: ArcSwapOption<RedisConnection>,
}

impl Deferred {
    fn connection(&self) -> Option<RedisConnection> {
        self.connected
            .load_full()
            .map(|c| RedisConnection::clone(&c))
    }
}

impl RedisConnection {
    /// Connects as [`Self::single`] or [`Self::cluster`] (`urls` holds one URL for a single
    /// server); when Redis does not answer, returns a deferred connection at once and keeps
    /// trying in the background, so the server starts and answers 503 until Redis is there.
    /// A URL that is not a Redis URL is still an error.
    pub async fn connect_or_defer(
        urls: &[String],
        cluster: bool,
        timeout: Duration,
    ) -> anyhow::Result<(Self, Vec<redis::Client>)> {
        match Self::connect(urls, cluster, timeout).await {
            Ok(connected) => return Ok(connected),
            // Nothing answers (yet): worth waiting for. Anything else (a URL that is not a
            // Redis URL, a certificate nobody trusts, a wrong password) is a configuration
            // error that waiting will not fix.
            Err(e) if e.downcast_ref::<NotAnswering>().is_some() => {}
            Err(e) => return Err(e),
        }
        let nodes = urls
            .iter()
            .map(|url| node_client(url))
            .collect::<Result<Vec<_>, _>>()?;
        let what = if cluster { "Redis Cluster" } else { "Redis" };
        tracing::warn!("{what} does not answer yet: serving 503 (and /readyz 503) until it does");
        let deferred = Arc::new(Deferred {
            cluster,
            connected: ArcSwapOption::empty(),
        });
        let waiting = Arc::downgrade(&deferred);
        let urls = urls.to_vec();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(250);
            loop {
                tokio::time::sleep(wait).await;
                let Some(deferred) = waiting.upgrade() else {
                    return;
                };
                match Self::connect(&urls, cluster, timeout).await {
                    Ok((conn, _)) => {
                        deferred.connected.store(Some(Arc::new(conn)));
                        tracing::info!("{what} answers: serving");
                        return;
                    }
                    Err(e) => tracing::debug!(error = %e, "{what} still does not answer"),
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        });
        Ok((Self::Deferred(deferred), nodes))
    }

    async fn connect(
        urls: &[String],
        cluster: bool,
        timeout: Duration,
    ) -> anyhow::Result<(Self, Vec<redis::Client>)> {
        match cluster {
            true => Self::cluster(urls, timeout).await,
            false => Self::single(&urls[0], timeout).await,
        }
    }

    /// Connects to one server at `url`, within `timeout` per attempt.
    pub async fn single(
        url: &str,
        timeout: Duration,
    ) -> anyhow::Result<(Self, Vec<redis::Client>)> {
        let client = node_client(url)
            .map_err(|e| anyhow::anyhow!("store.redis_url is not a Redis URL: {e}"))?;
        let conn = tokio::time::timeout(timeout * 3, Self::manager(client.clone(), timeout))
            .await
            .map_err(|_| NotAnswering(format!("Redis did not answer within {timeout:?}")))?
            .map_err(|e| failure("cannot connect to Redis", e))?;
        Ok((conn, vec![client]))
    }

    /// A reconnecting connection to one server, driven by the runtime this is awaited on.
    async fn manager(client: redis::Client, timeout: Duration) -> redis::RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self::Single(Box::new(conn)))
    }

    /// Connects to the cluster that `urls` (some or all of its nodes) belong to. The returned
    /// clients reach each given node, for pub/sub: a cluster delivers PUBLISH on every node.
    pub async fn cluster(
        urls: &[String],
        timeout: Duration,
    ) -> anyhow::Result<(Self, Vec<redis::Client>)> {
        let bad_url = |e: redis::RedisError| {
            anyhow::anyhow!("store.cluster_urls holds something that is not a Redis URL: {e}")
        };
        let client = ClusterClientBuilder::new(urls.to_vec())
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(2)
            .max_retry_wait(500)
            .tcp_settings(tcp_settings())
            .build()
            .map_err(bad_url)?;
        let conn = tokio::time::timeout(timeout * 3, client.get_async_connection())
            .await
            .map_err(|_| NotAnswering(format!("Redis Cluster did not answer within {timeout:?}")))?
            .map_err(|e| failure("cannot connect to Redis Cluster", e))?;
        let nodes = urls
            .iter()
            .map(|url| node_client(url))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad_url)?;
        Ok((Self::Cluster(conn), nodes))
    }

    /// Whether commands are spread over a cluster, where a pipeline or a script must stay
    /// within one hash slot.
    pub fn is_cluster(&self) -> bool {
        match self {
            Self::Single(_) => false,
            Self::Cluster(_) => true,
            Self::Deferred(deferred) => deferred.cluster,
        }
    }
}

/// A node to SCAN: a cluster master by address, or `None` for the one server.
pub type ScanNode = Option<(String, u16)>;

impl RedisConnection {
    /// Where every key can be found by SCAN: each master of a cluster (from `CLUSTER NODES`),
    /// or the one server.
    pub async fn scan_nodes(&self) -> redis::RedisResult<Vec<ScanNode>> {
        let conn = self.resolved()?;
        let Self::Cluster(mut cluster) = conn else {
            return Ok(vec![None]);
        };
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut cluster)
            .await?;
        // `<id> <ip:port@cport[,hostname]> <flags> ...`, one line per node.
        Ok(nodes
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let address = fields.nth(1)?;
                let flags = fields.next()?;
                let serving = flags.contains("master") && !flags.contains("fail");
                let (host, port) = address.split(['@', ',']).next()?.rsplit_once(':')?;
                serving.then(|| Some((host.to_owned(), port.parse().ok()?)))?
            })
            .map(Some)
            .collect())
    }

    /// One page of `SCAN cursor MATCH pattern` on `node`: the next cursor (0 at the end) and
    /// the keys found.
    pub async fn scan_page(
        &self,
        node: &ScanNode,
        cursor: u64,
        pattern: &str,
    ) -> redis::RedisResult<(u64, Vec<String>)> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        match (self.resolved()?, node) {
            (Self::Cluster(mut cluster), Some((host, port))) => {
                use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                let reply = cluster.route_command(scan, routing).await?;
                Ok(redis::from_redis_value(reply)?)
            }
            (mut conn, _) => scan.query_async(&mut conn).await,
        }
    }

    /// The connection commands go to now (a deferred one once it has connected).
    fn resolved(&self) -> redis::RedisResult<Self> {
        match self {
            Self::Deferred(deferred) => deferred.connection().ok_or_else(not_connected),
            other => Ok(other.clone()),
        }
    }
}

/// A client for `url` whose connections keep TCP keepalive on.
fn node_client(url: &str) -> redis::RedisResult<redis::Client> {
    redis::Client::open(url.into_connection_info()?.set_tcp_settings(tcp_settings()))
}

/// TCP keepalive with the system's timings, as redis-rs set it by default before 1.0 (now off
/// unless asked for): a peer that vanished is noticed even on an idle pub/sub connection.
fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_keepalive(TcpKeepalive::new())
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
            Self::Deferred(deferred) => match deferred.connection() {
                Some(mut conn) => Box::pin(async move { conn.req_packed_command(cmd).await }),
                None => Box::pin(std::future::ready(Err(not_connected()))),
            },
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Deferred(deferred) => match deferred.connection() {
                Some(mut conn) => {
                    Box::pin(async move { conn.req_packed_commands(pipeline, offset, count).await })
                }
                None => Box::pin(std::future::ready(Err(not_connected()))),
            },
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
            Self::Deferred(deferred) => deferred.connection().map_or(0, |c| c.get_db()),
        }
    }
}

/// A failure to connect that waiting may cure: nothing listens, the name does not resolve yet,
/// the connection was dropped or timed out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotAnswering(String);

/// `error` as [`NotAnswering`] when waiting may cure it, else as a plain error.
fn failure(context: &str, error: redis::RedisError) -> anyhow::Error {
    let text = error.to_string();
    let unreachable = error.is_connection_refusal()
        || error.is_timeout()
        || error.is_connection_dropped()
        || ["lookup", "resolve", "unreachable", "No route"]
            .iter()
            .any(|hint| text.contains(hint));
    let tls_or_auth = [
        "certificate",
        "TLS",
        "tls",
        "handshake",
        "AUTH",
        "auth",
        "password",
    ]
    .iter()
    .any(|hint| text.contains(hint));
    match unreachable && !tls_or_auth {
        true => NotAnswering(format!("{context}: {text}")).into(),
        false => anyhow::anyhow!("{context}: {text}"),
    }
}

fn not_connected() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Io,
        "Redis has not answered since start-up",
    ))
}

/// Connections of their own for the threads that serve requests, to one server.
///
/// Each actix-web worker runs its own single-threaded runtime. A connection made at start-up is
/// driven by the main runtime, so every command from a worker hops threads twice (wake the
/// connection's task, wake the worker with the reply); on a busy machine those wake-ups cost
/// about as much as the command. A connection made on the worker's own runtime is driven by
/// the worker itself. Each worker makes one in the background on its first command and uses
/// the shared connection until it is ready (and again for a while after a failed attempt).
pub struct ThreadConnections {
    /// Tells apart the stores of one process (tests run many) in the per-thread table.
    owner: u64,
    client: redis::Client,
    timeout: Duration,
}

/// How long a thread uses the shared connection after a failed attempt to make its own.
const RETRY_OWN_CONNECTION: Duration = Duration::from_secs(1);

thread_local! {
    static OWN: RefCell<Vec<OwnConnection>> = const { RefCell::new(Vec::new()) };
}

struct OwnConnection {
    owner: u64,
    runtime: tokio::runtime::Id,
    /// `None` while it is being made (since the instant given).
    conn: Option<RedisConnection>,
    since: Instant,
}

impl ThreadConnections {
    pub fn new(client: redis::Client, timeout: Duration) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            owner: NEXT.fetch_add(1, Ordering::Relaxed),
            client,
            timeout,
        }
    }

    /// This thread's own connection when it has one. Otherwise `None`, having started to make
    /// one if this thread runs a single-threaded runtime (an actix-web worker does).
    pub fn get(&self) -> Option<RedisConnection> {
        let handle = Handle::try_current().ok()?;
        if handle.runtime_flavor() != RuntimeFlavor::CurrentThread {
            return None;
        }
        let runtime = handle.id();
        OWN.with(|own| {
            let mut own = own.borrow_mut();
            let entry = own
                .iter_mut()
                .find(|e| e.owner == self.owner && e.runtime == runtime);
            match entry {
                Some(OwnConnection {
                    conn: Some(conn), ..
                }) => return Some(conn.clone()),
                Some(e) if e.since.elapsed() < RETRY_OWN_CONNECTION => return None,
                Some(e) => e.since = Instant::now(),
                None => own.push(OwnConnection {
                    owner: self.owner,
                    runtime,
                    conn: None,
                    since: Instant::now(),
                }),
            }
            let (owner, client, timeout) = (self.owner, self.client.clone(), self.timeout);
            // A single-threaded runtime runs the task on this thread, which is where it is kept.
            handle.spawn(async move {
                let made = tokio::time::timeout(timeout, RedisConnection::manager(client, timeout));
                if let Ok(Ok(conn)) = made.await {
                    OWN.with(|own| {
                        let mut own = own.borrow_mut();
                        let entry = own
                            .iter_mut()
                            .find(|e| e.owner == owner && e.runtime == runtime);
                        if let Some(entry) = entry {
                            entry.conn = Some(conn);
                        }
                    });
                }
            });
            None
        })
    }
}

/// Keeps a pub/sub subscription to `channel` open for as long as `changes` has a sender,
/// moving on to the next of `nodes` when one fails (on a cluster any node sees every PUBLISH),
/// and sends what `decode` makes of each message's payload. `decode(None)` runs on every
/// (re)subscription, for listeners that must catch up on what they may have missed meanwhile.
pub async fn forward_channel<T>(
    nodes: Vec<redis::Client>,
    channel: String,
    changes: broadcast::WeakSender<T>,
    decode: impl Fn(Option<String>) -> Option<T>,
) {
    let send = |value: T| {
        if let Some(sender) = changes.upgrade() {
            let _ = sender.send(value);
        }
    };
    for client in nodes.iter().cycle() {
        if changes.strong_count() == 0 {
            return;
        }
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let mut messages = pubsub.on_message();
                    if let Some(value) = decode(None) {
                        send(value);
                    }
                    while let Some(msg) = messages.next().await {
                        let payload: String = msg.get_payload().unwrap_or_default();
                        if changes.strong_count() == 0 {
                            return;
                        }
                        if let Some(value) = decode(Some(payload)) {
                            send(value);
                        }
                    }
                    tracing::warn!(%channel, "redis pub/sub connection closed; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, %channel, "redis subscribe failed"),
            },
            Err(e) => tracing::debug!(error = %e, "redis pub/sub connect failed"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
