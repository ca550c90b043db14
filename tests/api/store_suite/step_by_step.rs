//! Runs a store call one step at a time and looks at what a subscriber of the store's
//! announcements has heard between two steps, while the call is held where it is: so a test can
//! read the store at the very moment an announcement becomes visible, before the call writes
//! anything more (a read after the call returns sees every write, whatever their order).
//!
//! A store call talks to Redis through the connections' background tasks; it sends its next
//! command only when it is polled, and it is woken when a reply it waits for has arrived. So the
//! call is polled only after it was woken and after the subscriber is brought up to date.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use belvo_bff::domain::ids::SessionId;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a subscriber has heard, exactly up to now.
pub(super) enum Ears {
    /// The in-memory store's own channel (its announcements are sent in-process).
    Memory(tokio::sync::broadcast::Receiver<SessionId>),
    /// A subscription of its own on every Redis node (RESP3: a PING on the subscribed connection
    /// comes back after every message the node published before it). A Redis Cluster sends a
    /// message to the node's own subscribers as it runs PUBLISH, so one of them has it.
    Redis(Vec<Subscribed>),
}

pub(super) struct Subscribed {
    conn: redis::aio::MultiplexedConnection,
    messages: UnboundedReceiver<PushInfo>,
}

impl Ears {
    /// Subscribes to `channel` on each node of `urls` (`redis://host:port`).
    pub(super) async fn on_redis(urls: &[String], channel: &str) -> Self {
        let mut ears = Vec::new();
        for url in urls {
            let client = redis::Client::open(format!("{url}/?protocol=resp3")).unwrap();
            let (tx, messages) = tokio::sync::mpsc::unbounded_channel();
            let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .unwrap();
            conn.subscribe(channel).await.unwrap();
            ears.push(Subscribed { conn, messages });
        }
        let mut ears = Self::Redis(ears);
        ears.hears_each_node(channel).await;
        ears
    }

    /// Every node of a Redis Cluster, as the node at `url` lists them.
    pub(super) async fn cluster_nodes(url: &str) -> Vec<String> {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await
            .unwrap();
        nodes
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1))
            .map(|addr| format!("redis://{}", addr.split('@').next().unwrap()))
            .collect()
    }

    /// A message published on a node is heard at once through that node's subscription (the
    /// way `heard` relies on).
    async fn hears_each_node(&mut self, channel: &str) {
        let Self::Redis(ears) = self else { return };
        for ear in ears.iter_mut() {
            let probe = SessionId::generate();
            let _: i64 = redis::cmd("PUBLISH")
                .arg(channel)
                .arg(probe.to_string())
                .query_async(&mut ear.conn)
                .await
                .unwrap();
            assert!(ear.heard(probe).await, "the node's own subscriber hears it");
        }
    }

    /// Until an announcement of `id` made before (while subscribed) is heard everywhere, so it
    /// is not taken for a later one: on a Redis Cluster the other nodes' subscribers get it
    /// later, through the cluster bus. The in-memory channel has it at once.
    pub(super) async fn forget_earlier(&mut self, id: SessionId) {
        let Self::Redis(ears) = self else {
            self.heard(id).await;
            return;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for ear in ears.iter_mut() {
            while !ear.heard(id).await {
                assert!(
                    std::time::Instant::now() < deadline,
                    "never heard on a node"
                );
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }

    /// Whether `id` was announced by now (other announcements are skipped).
    pub(super) async fn heard(&mut self, id: SessionId) -> bool {
        match self {
            Self::Memory(changes) => {
                use tokio::sync::broadcast::error::TryRecvError;
                let mut heard = false;
                loop {
                    match changes.try_recv() {
                        Ok(announced) => heard |= announced == id,
                        Err(TryRecvError::Lagged(_)) => continue,
                        Err(_) => return heard,
                    }
                }
            }
            Self::Redis(ears) => {
                let mut heard = false;
                for ear in ears.iter_mut() {
                    heard |= ear.heard(id).await;
                }
                heard
            }
        }
    }
}

impl Subscribed {
    async fn heard(&mut self, id: SessionId) -> bool {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn)
            .await
            .unwrap();
        let id = Value::BulkString(id.to_string().into_bytes());
        let mut heard = false;
        while let Ok(push) = self.messages.try_recv() {
            heard |= push.kind == PushKind::Message && push.data.get(1) == Some(&id);
        }
        heard
    }
}

/// Runs `call` to its end; before each of its steps, once `id` is heard announced (and only the
/// first time), runs `at_announcement` while `call` is held where the announcement left it.
/// Returns the call's output and whether the announcement was heard before the call ended.
pub(super) async fn run_until_announced<T, C, A, Fut>(
    call: C,
    ears: &mut Ears,
    id: SessionId,
    mut at_announcement: A,
) -> (T, bool)
where
    C: Future<Output = T>,
    A: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let woken = Arc::new(Woken::default());
    woken.flag.store(true, Ordering::SeqCst);
    let waker = Waker::from(woken.clone());
    let mut call = pin!(call);
    let mut heard = false;
    loop {
        woken.wait().await;
        if !heard && ears.heard(id).await {
            heard = true;
            at_announcement().await;
        }
        if let Poll::Ready(out) = call.as_mut().poll(&mut Context::from_waker(&waker)) {
            return (out, heard);
        }
    }
}

/// The call's waker: notes that the call may go on, and wakes the test's task.
#[derive(Default)]
struct Woken {
    flag: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.lock().unwrap().take() {
            task.wake();
        }
    }
}

impl Woken {
    /// Until the call was woken since the last wait.
    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            *self.task.lock().unwrap() = Some(cx.waker().clone());
            if self.flag.swap(false, Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}
