//! Attempt counters: fixed windows that start at the first attempt, for Belvo's per-username
//! limit, token requests per user, distinct usernames per user and failed staff sign-ins.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::external_id::ExternalId;

#[async_trait]
pub trait Attempts: Send + Sync {
    /// Counts one attempt for `subject` in a window that starts at its first attempt; returns
    /// the attempts so far (this one included) and the time left in the window.
    async fn count_attempt(&self, subject: &str, window: Duration) -> StoreResult<(u64, Duration)>;

    /// Reads what [`Self::count_attempt`] counted for `subject` without counting: the attempts
    /// in the current window and the time left in it.
    async fn attempts(&self, subject: &str) -> StoreResult<(u64, Duration)>;

    /// Takes back one attempt [`Self::count_attempt`] counted for `subject` (one that turned out
    /// not to be a failure); nothing when the window has ended.
    async fn release_attempt(&self, subject: &str) -> StoreResult<()>;

    /// Counts one Belvo token request of `user` in each of `windows` (one round trip); returns
    /// each window's count (this one included) and time left, as [`Self::count_attempt`].
    async fn count_token_request(
        &self,
        user: &ExternalId,
        windows: [Duration; 2],
    ) -> StoreResult<[(u64, Duration); 2]>;

    /// Notes `member` among the distinct ones seen for `subject` in a window that starts with
    /// the first: a member seen already is always allowed, a new one only while fewer than
    /// `max` were seen. Returns whether it is allowed and the time left in the window.
    async fn count_distinct(
        &self,
        subject: &str,
        member: &str,
        window: Duration,
        max: u64,
    ) -> StoreResult<(bool, Duration)>;
}
