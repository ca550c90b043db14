//! Funnel counters (SPEC §14): written by the session writes themselves (`create_session`,
//! `open_widget`, `apply`) and the link writes (`claim_link`, `set_link_verified`,
//! `record_webhook`), in the same round trip; read back here, every shard summed.

use std::collections::HashMap;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::funnel::Day;

#[async_trait]
pub trait FunnelStore: Send + Sync {
    /// Every counter of `days`, summed over days and shards: field
    /// (`product|platform|mode|institution|step`) → count.
    async fn funnel_counts(&self, days: &[Day]) -> StoreResult<HashMap<String, u64>>;
}

/// Counts `fields` in `bff_funnel_steps_total` (closed labels: buckets are not steps).
pub(super) fn counted_metrics<F: AsRef<str>>(fields: &[F]) {
    for field in fields {
        let Some(counter) = crate::domain::funnel::Counter::parse(field.as_ref()) else {
            continue;
        };
        if let Some(step) = crate::domain::funnel::metric_step(counter.step) {
            crate::metrics::funnel_step(counter.product, counter.platform, step);
        }
    }
}
