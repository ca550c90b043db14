//! [`Attempts`] in memory: each window a count (or a set of members) with its end.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::external_id::ExternalId;
use crate::store::{Attempts, StoreResult};

#[async_trait]
impl Attempts for MemoryStore {
    async fn count_attempt(&self, subject: &str, window: Duration) -> StoreResult<(u64, Duration)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let (count, expires) = inner
            .attempts
            .entry(subject.to_owned())
            .and_modify(|(n, exp)| {
                if *exp <= now {
                    *n = 0;
                    *exp = now + window;
                }
            })
            .or_insert((0, now + window));
        *count += 1;
        Ok((*count, expires.saturating_duration_since(now)))
    }

    async fn count_token_request(
        &self,
        user: &ExternalId,
        windows: [Duration; 2],
    ) -> StoreResult<[(u64, Duration); 2]> {
        let mut counts = [(0, Duration::ZERO); 2];
        for (count, window) in counts.iter_mut().zip(windows) {
            let subject = format!("tokens:{user}:{}", window.as_millis());
            *count = self.count_attempt(&subject, window).await?;
        }
        Ok(counts)
    }

    async fn count_distinct(
        &self,
        subject: &str,
        member: &str,
        window: Duration,
        max: u64,
    ) -> StoreResult<(bool, Duration)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let (members, expires) = inner
            .distinct
            .entry(subject.to_owned())
            .and_modify(|(members, exp)| {
                if *exp <= now {
                    members.clear();
                    *exp = now + window;
                }
            })
            .or_insert_with(|| (HashSet::new(), now + window));
        let allowed = members.contains(member) || (members.len() as u64) < max;
        if allowed {
            members.insert(member.to_owned());
        }
        Ok((allowed, expires.saturating_duration_since(now)))
    }

    async fn attempts(&self, subject: &str) -> StoreResult<(u64, Duration)> {
        let now = Instant::now();
        let inner = self.lock();
        Ok(inner
            .attempts
            .get(subject)
            .filter(|(_, expires)| *expires > now)
            .map(|(n, expires)| (*n, *expires - now))
            .unwrap_or_default())
    }

    async fn release_attempt(&self, subject: &str) -> StoreResult<()> {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some((n, expires)) = inner.attempts.get_mut(subject) {
            if *expires > now {
                *n = n.saturating_sub(1);
            }
        }
        Ok(())
    }
}
