//! [`FunnelStore`] in memory: one map of counters per day (no shards: one process), counted by
//! the same session writes as on Redis and dropped when their day's counters would expire.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{Inner, MemoryStore};
use crate::domain::funnel::{self, Day};
use crate::domain::session::{now_millis, Millis, Transition};
use crate::store::{FunnelStore, StoreResult};

/// Each day's counters: field → count.
pub(super) type Counters = HashMap<Day, HashMap<String, u64>>;

#[async_trait]
impl FunnelStore for MemoryStore {
    async fn funnel_counts(&self, days: &[Day]) -> StoreResult<HashMap<String, u64>> {
        let inner = self.lock();
        let mut sum: HashMap<String, u64> = HashMap::new();
        for day in days {
            for (field, count) in inner.funnel.get(day).into_iter().flatten() {
                *sum.entry(field.clone()).or_default() += count;
            }
        }
        Ok(sum)
    }
}

/// Counts `fields` on the day of `now` (as the scripts do), and in the metric.
pub(super) fn count(inner: &mut Inner, now: Millis, fields: &[String]) {
    let day = inner.funnel.entry(Day::of_millis(now)).or_default();
    for field in fields {
        *day.entry(field.clone()).or_default() += 1;
    }
    crate::store::funnel::counted_metrics(fields);
}

/// Drops the days whose counters expired.
pub(super) fn sweep(inner: &mut Inner) {
    let now = now_millis();
    inner.funnel.retain(|day, _| day.expire_at_millis() > now);
}

/// The fields the first terminal effect of `t` counts on a session (`fields` after the change),
/// as `apply_event.lua` finds them.
pub(super) fn terminal_fields(
    fields: &HashMap<String, String>,
    t: &Transition,
    status: &str,
) -> Vec<String> {
    let Some(step) = &t.funnel else {
        return Vec::new();
    };
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    let mode = fields.get("mode").map_or("connect", String::as_str);
    let prefix = format!(
        "{}|{}|{mode}|{}|",
        get("product"),
        get("platform"),
        step.institution
    );
    let mut counted = vec![format!("{prefix}{}", step.step)];
    if status == "succeeded" {
        if let Some(opened) = fields.get("opened_at").and_then(|o| o.parse::<i64>().ok()) {
            counted.push(format!("{prefix}{}", funnel::within_step(t.now - opened)));
        }
    }
    counted
}

/// The field a first opening counts.
pub(super) fn opened_field(fields: &HashMap<String, String>) -> String {
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    funnel::field(
        get("product"),
        get("platform"),
        fields.get("mode").map_or("connect", String::as_str),
        funnel::NO_INSTITUTION,
        "opened",
    )
}
