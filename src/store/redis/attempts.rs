//! [`Attempts`] on Redis: each window a key that expires when the window ends (a counter, or a
//! set of distinct members), counted by a script so the first attempt starts the window.

use std::time::Duration;

use async_trait::async_trait;

use super::RedisStore;
use crate::domain::external_id::ExternalId;
use crate::store::{lua, Attempts, StoreResult};

#[async_trait]
impl Attempts for RedisStore {
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

    async fn attempts(&self, subject: &str) -> StoreResult<(u64, Duration)> {
        let key = self.keys.attempts(subject);
        let mut pipe = redis::pipe();
        pipe.get(&key).pttl(&key);
        let mut conn = self.conn();
        let (count, ttl): (Option<u64>, i64) = self.run(pipe.query_async(&mut conn)).await?;
        Ok((count.unwrap_or(0), Duration::from_millis(ttl.max(0) as u64)))
    }

    async fn release_attempt(&self, subject: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        let mut release = lua::RELEASE_ATTEMPT.prepare_invoke();
        release.key(self.keys.attempts(subject));
        self.run(release.invoke_async::<i64>(&mut conn))
            .await
            .map(|_| ())
    }
}
