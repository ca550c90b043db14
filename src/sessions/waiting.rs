//! Bounds on long-polls (`?wait=`): each waiting request holds a connection and a file
//! descriptor, so a process caps how many wait at once, in total and per user. Past a cap a
//! long-poll does not wait: it answers at once with the current state (never an error).
//!
//! Waiters hold no Redis connection and no subscription of their own: the store's one change
//! feed (a single pub/sub subscription per process) is read by one task, which wakes only the
//! waiters of the session that changed. With ten thousand waiters, a callback wakes its own
//! session's few, not all of them. Woken together, those few read the session once between
//! them ([`SessionWatch::read_after_change`]): ten thousand waiters woken by a thousand callbacks
//! make a thousand reads, not ten thousand.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{broadcast, watch};

use crate::domain::external_id::ExternalId;
use crate::domain::ids::SessionId;
use crate::store::SessionWithLink;

/// Who is waiting right now, counted per user.
pub struct Waiters {
    max_total: usize,
    max_per_user: usize,
    waiting: Mutex<Counts>,
    watched: Arc<Watched>,
}

/// The sessions someone waits on: a change counter each, shared by its waiters.
#[derive(Default)]
struct Watched(Mutex<HashMap<SessionId, Watch>>);

struct Watch {
    changes: watch::Sender<u64>,
    watchers: usize,
    latest: Arc<LatestRead>,
}

/// The last read of a session made after a change, shared by its waiters: the change counter
/// seen before the read began, and what it found (`None`: no such session). A waiter holds the
/// lock while it reads, so the others woken by the same change wait for that read instead of
/// making their own.
type LatestRead = tokio::sync::Mutex<Option<(u64, Option<Arc<SessionWithLink>>)>>;

/// Changes of one session, seen from the moment it was made.
pub struct SessionWatch {
    watched: Arc<Watched>,
    id: SessionId,
    changes: watch::Receiver<u64>,
    /// The change counter when this waiter last woke.
    seen: u64,
    latest: Arc<LatestRead>,
}

impl SessionWatch {
    /// Until the session changes (at once if it changed since the watch began or the last
    /// call).
    pub async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.seen = *self.changes.borrow_and_update();
    }

    /// The session as it is after the change [`Self::changed`] woke for: read by `read`, unless
    /// another waiter of this session already read it after that change (then its read is
    /// shared). A failed read is not shared: the next waiter reads again.
    pub async fn read_after_change<E, F>(&self, read: F) -> Result<Option<Arc<SessionWithLink>>, E>
    where
        F: Future<Output = Result<Option<SessionWithLink>, E>>,
    {
        let mut latest = self.latest.lock().await;
        if let Some((counter, found)) = latest.as_ref() {
            if *counter >= self.seen {
                return Ok(found.clone());
            }
        }
        // Every change counted so far reached this process before the read begins, so the read
        // shows them all: later waiters of those changes may take it.
        let counter = *self.changes.borrow();
        let found = read.await?.map(Arc::new);
        *latest = Some((counter, found.clone()));
        Ok(found)
    }

    /// `read`, the session as this waiter read it before waiting, kept once for the session's
    /// waiters that read the same: ten waiters of one session hold one copy, not ten. A read
    /// that differs is this waiter's own. Kept as the session's latest read, for the changes
    /// counted before this waiter's watch began ([`Self::read_after_change`]).
    pub fn keep_first_read(&self, read: SessionWithLink) -> Arc<SessionWithLink> {
        match self.latest.try_lock() {
            Ok(mut latest) => keep_read(&mut latest, self.seen, read),
            // Another waiter is reading the session after a change: keep this one's own.
            Err(_) => Arc::new(read),
        }
    }
}

/// `read`, made after the change counted `counter`: the latest read instead when that is the
/// same; else `read`, which becomes the latest unless a later read is.
fn keep_read<T: PartialEq>(
    latest: &mut Option<(u64, Option<Arc<T>>)>,
    counter: u64,
    read: T,
) -> Arc<T> {
    if let Some((_, Some(kept))) = latest.as_ref() {
        if **kept == read {
            return kept.clone();
        }
    }
    let read = Arc::new(read);
    if latest.as_ref().is_none_or(|(seen, _)| *seen <= counter) {
        *latest = Some((counter, Some(read.clone())));
    }
    read
}

impl Drop for SessionWatch {
    fn drop(&mut self) {
        let mut map = self.watched.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(watch) = map.get_mut(&self.id) {
            watch.watchers -= 1;
            if watch.watchers == 0 {
                map.remove(&self.id);
            }
        }
    }
}

impl Watched {
    fn changed(&self, id: &SessionId) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(watch) = map.get(id) {
            watch.changes.send_modify(|n| *n += 1);
        }
    }

    /// Some changes were missed: every waiter reads again.
    fn all_changed(&self) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for watch in map.values() {
            watch.changes.send_modify(|n| *n += 1);
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_user: HashMap<ExternalId, usize>,
}

/// A place among the waiters; given back when dropped.
pub struct WaitSlot {
    waiters: Arc<Waiters>,
    user: ExternalId,
}

/// Why a long-poll may not wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// `limits.max_waiting` requests already wait in this process.
    Process,
    /// This user already has `limits.max_waiting_per_user` waiting.
    User,
}

impl Full {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::User => "user",
        }
    }
}

impl Waiters {
    pub fn new(max_total: usize, max_per_user: usize) -> Self {
        Self {
            max_total,
            max_per_user,
            waiting: Mutex::default(),
            watched: Arc::default(),
        }
    }

    /// Reads the store's change feed in a task of the current runtime, for as long as these
    /// waiters exist, waking the waiters of each session that changed.
    pub fn follow(self: &Arc<Self>, mut feed: broadcast::Receiver<SessionId>) {
        let watched: Weak<Watched> = Arc::downgrade(&self.watched);
        tokio::spawn(async move {
            loop {
                let received = feed.recv().await;
                let Some(watched) = watched.upgrade() else {
                    return;
                };
                match received {
                    Ok(id) => watched.changed(&id),
                    Err(broadcast::error::RecvError::Lagged(_)) => watched.all_changed(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Watches `id` for changes (wakes from [`Self::follow`]'s feed). Made before reading the
    /// session, so a change between the read and the wait is not missed.
    pub fn watch(&self, id: SessionId) -> SessionWatch {
        let mut map = self.watched.0.lock().unwrap_or_else(|p| p.into_inner());
        let watch = map.entry(id).or_insert_with(|| Watch {
            changes: watch::Sender::new(0),
            watchers: 0,
            latest: Arc::default(),
        });
        watch.watchers += 1;
        let changes = watch.changes.subscribe();
        let seen = *changes.borrow();
        SessionWatch {
            watched: self.watched.clone(),
            id,
            seen,
            changes,
            latest: watch.latest.clone(),
        }
    }

    /// A slot for `user`, unless a cap is reached.
    pub fn enter(self: &Arc<Self>, user: &ExternalId) -> Result<WaitSlot, Full> {
        let mut counts = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= self.max_total {
            return Err(Full::Process);
        }
        let mine = counts.per_user.entry(user.clone()).or_default();
        if *mine >= self.max_per_user {
            return Err(Full::User);
        }
        *mine += 1;
        counts.total += 1;
        crate::metrics::long_poll_waiting(1.0);
        Ok(WaitSlot {
            waiters: self.clone(),
            user: user.clone(),
        })
    }

    /// How many requests wait now.
    pub fn count(&self) -> usize {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut counts = self
            .waiters
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        counts.total -= 1;
        crate::metrics::long_poll_waiting(-1.0);
        if let Some(mine) = counts.per_user.get_mut(&self.user) {
            *mine -= 1;
            if *mine == 0 {
                counts.per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> ExternalId {
        ExternalId::parse(&format!("u_{name}")).unwrap()
    }

    #[test]
    fn caps_hold_per_user_and_in_total_and_slots_come_back() {
        let waiters = Arc::new(Waiters::new(3, 2));
        let a1 = waiters.enter(&user("aaa")).unwrap();
        let _a2 = waiters.enter(&user("aaa")).unwrap();
        assert_eq!(waiters.enter(&user("aaa")).err(), Some(Full::User));
        let _b1 = waiters.enter(&user("bbb")).unwrap();
        assert_eq!(waiters.enter(&user("ccc")).err(), Some(Full::Process));
        drop(a1);
        assert_eq!(waiters.count(), 2);
        let _a3 = waiters.enter(&user("aaa")).unwrap();
        assert_eq!(waiters.count(), 3);
    }

    fn session() -> SessionId {
        SessionId::parse(&uuid::Uuid::new_v4().to_string()).unwrap()
    }

    #[tokio::test]
    async fn a_change_wakes_the_waiters_of_its_session_only_and_watches_are_forgotten() {
        let waiters = Arc::new(Waiters::new(10, 10));
        let (feed, _) = broadcast::channel(16);
        waiters.follow(feed.subscribe());
        let (a, b) = (session(), session());
        let (mut a1, mut a2, mut b1) = (waiters.watch(a), waiters.watch(a), waiters.watch(b));
        feed.send(a).unwrap();
        a1.changed().await;
        a2.changed().await;
        let b_woken = tokio::time::timeout(std::time::Duration::from_millis(50), b1.changed());
        assert!(b_woken.await.is_err(), "a change of a woke b's waiter");
        // A change before the wait is not lost.
        feed.send(b).unwrap();
        while !b1.changes.has_changed().unwrap() {
            tokio::task::yield_now().await;
        }
        b1.changed().await;
        drop((a1, a2, b1));
        assert!(waiters.watched.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn waiters_woken_by_one_change_share_one_read_and_a_later_change_is_read_again() {
        let waiters = Arc::new(Waiters::new(10, 10));
        let (feed, _) = broadcast::channel(16);
        waiters.follow(feed.subscribe());
        let id = session();
        let (mut a, mut b) = (waiters.watch(id), waiters.watch(id));
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let read = |fails: bool| {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if fails {
                    Err(())
                } else {
                    Ok(None)
                }
            }
        };
        let count = || reads.load(std::sync::atomic::Ordering::SeqCst);
        feed.send(id).unwrap();
        a.changed().await;
        b.changed().await;
        // A failed read is not shared: the next waiter reads for itself.
        assert!(a.read_after_change(read(true)).await.is_err());
        b.read_after_change(read(false)).await.unwrap();
        a.read_after_change(read(false)).await.unwrap();
        assert_eq!(count(), 3);
        let made = count();
        // The same change: b's read is a's too (the closure's read is never awaited).
        let shared = a.read_after_change(async { Err(()) }).await;
        assert!(matches!(shared, Ok(None)));
        assert_eq!(count(), made);
        // A later change: the earlier read is not taken for it.
        feed.send(id).unwrap();
        a.changed().await;
        assert!(a.read_after_change(async { Err(()) }).await.is_err());
    }

    #[test]
    fn a_read_equal_to_the_latest_is_kept_once_and_a_different_one_is_its_own() {
        let mut latest = None;
        let first = keep_read(&mut latest, 0, "pending".to_owned());
        let same = keep_read(&mut latest, 0, "pending".to_owned());
        assert!(Arc::ptr_eq(&first, &same));
        // Another read (after a change) is its own, and the latest from then on.
        let changed = keep_read(&mut latest, 1, "succeeded".to_owned());
        assert!(!Arc::ptr_eq(&first, &changed));
        assert!(Arc::ptr_eq(
            &keep_read(&mut latest, 1, "succeeded".to_owned()),
            &changed
        ));
        // A read older than the latest does not replace it.
        let older = keep_read(&mut latest, 0, "pending".to_owned());
        assert_eq!(*older, "pending");
        assert_eq!(latest.as_ref().map(|(seen, _)| *seen), Some(1));
    }

    #[test]
    fn a_user_with_nobody_waiting_is_forgotten() {
        let waiters = Arc::new(Waiters::new(10, 10));
        drop(waiters.enter(&user("aaa")).unwrap());
        let counts = waiters.waiting.lock().unwrap();
        assert_eq!((counts.total, counts.per_user.len()), (0, 0));
    }
}
