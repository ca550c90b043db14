//! Bounds on long-polls (`?wait=`): each waiting request holds a connection and a file
//! descriptor, so a process caps how many wait at once, in total and per user. Past a cap a
//! long-poll does not wait: it answers at once with the current state (never an error).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::external_id::ExternalId;

/// Who is waiting right now, counted per user.
pub struct Waiters {
    max_total: usize,
    max_per_user: usize,
    waiting: Mutex<Counts>,
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

    #[test]
    fn a_user_with_nobody_waiting_is_forgotten() {
        let waiters = Arc::new(Waiters::new(10, 10));
        drop(waiters.enter(&user("aaa")).unwrap());
        let counts = waiters.waiting.lock().unwrap();
        assert_eq!((counts.total, counts.per_user.len()), (0, 0));
    }
}
