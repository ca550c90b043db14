//! [`Links`] on Redis: a link is a hash, a webhook timeline list and a sorted set of recent
//! webhook ids under the link's hash tag; a user's links a set.

use async_trait::async_trait;
use redis::AsyncCommands;

use super::RedisStore;
use crate::domain::external_id::ExternalId;
use crate::domain::funnel::Day;
use crate::domain::health::HealthTransition;
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{now_millis, Millis, Session};
use crate::domain::shard::Shard;
use crate::domain::verification::Verification;
use crate::domain::webhook::{LinkClaim, LinkState, WebhookApplied, WebhookUpdate};
use crate::store::funnel::counted_metrics;
use crate::store::{codec, lua, Links, StoreError, StoreResult};

impl RedisStore {
    /// The day's funnel counters hash in the slot of `link`'s keys: the link's own steps count
    /// there, in the script that causes them (SPEC §14).
    fn link_funnel(&self, link: &LinkId, day: Day) -> String {
        self.keys.funnel(Shard::of_link(link), day)
    }
}

/// The keep window of a webhook at `now` (`record_webhook.lua`'s ARGV[7]): `now` divided by
/// REKEEP, 30 s or a hundredth of a retention shorter than 50 minutes. A link's keys kept in
/// the same window were kept less than REKEEP ago.
fn keep_window(now: Millis, retention_ms: i64) -> i64 {
    now.div_euclid((retention_ms / 100).clamp(1, 30_000))
}

#[async_trait]
impl Links for RedisStore {
    async fn record_webhook(&self, update: &WebhookUpdate) -> StoreResult<WebhookApplied> {
        let link_key = self.keys.link(&update.link);
        // With its effect "applied" last: the script puts `mismatch` in its place when it must.
        let entry =
            codec::entry_with_effect(&update.timeline_entry, "applied").ok_or_else(|| {
                StoreError::corrupt(&link_key, "a timeline entry must be a JSON object")
            })?;
        let (resource, state) = match &update.resource {
            Some((resource, state)) => (
                resource.as_str(),
                serde_json::to_string(state).expect("resource states serialise"),
            ),
            None => ("", String::new()),
        };
        let day = Day::of_millis(update.now);
        let window = keep_window(update.now, self.retention.links_ms());
        // A link this process saw settled goes without the readiness arguments; Redis decides.
        let mut settled = self.settled_links.get(&update.link).is_some();
        loop {
            let mut invocation = self.record_webhook.prepare_invoke();
            invocation
                .key(&link_key)
                .key(self.keys.link_timeline(&update.link))
                .key(self.keys.link_webhook_ids(&update.link));
            if !settled {
                invocation.key(self.link_funnel(&update.link, day));
                if let Some(outbox) = self.link_outbox(&update.link) {
                    invocation.key(outbox);
                }
            }
            invocation
                .arg(&update.webhook_id)
                .arg(update.now)
                .arg(resource)
                .arg(&state)
                .arg(
                    update
                        .external_id
                        .as_ref()
                        .map(|e| e.as_str())
                        .unwrap_or(""),
                )
                .arg(&entry)
                .arg(window);
            if !settled {
                invocation
                    .arg(update.link.to_string())
                    .arg(day.expire_at_millis());
                // Only a product that fetches this resource can have its last resource made ready.
                for (product, resources) in self.fetch_resources.iter() {
                    if !resource.is_empty() && resources.iter().any(|r| r.as_str() == resource) {
                        invocation.arg(product).arg(resources.join(","));
                    }
                }
            }
            let mut conn = self.conn();
            let reply: String = self.run(invocation.invoke_async(&mut conn)).await?;
            let mut parts = reply.split('\n');
            let result = parts.next();
            let session = parts.next().and_then(|s| SessionId::parse(s).ok());
            let consent = parts.next().unwrap_or("");
            return match result {
                Some("unready") if settled => {
                    // The hint was wrong (the link was deleted since, say): nothing was written.
                    self.settled_links.remove(&update.link);
                    settled = false;
                    continue;
                }
                Some("duplicate") => {
                    // The first delivery may have been refused for want of replicas: wait again.
                    self.replicated().await?;
                    Ok(WebhookApplied::Duplicate)
                }
                Some("mismatch") => Ok(WebhookApplied::Mismatch),
                Some("recorded") => {
                    let counted = parts.next().unwrap_or("");
                    if parts.next() == Some("1") {
                        self.settled_links.insert(update.link, ());
                    }
                    self.replicated().await?;
                    counted_metrics(&[counted]);
                    Ok(WebhookApplied::Recorded {
                        session,
                        consent_open: crate::domain::webhook::consent_open(consent),
                    })
                }
                _ => Err(StoreError::corrupt(
                    &link_key,
                    format!("unexpected record_webhook.lua reply {reply:?}"),
                )),
            };
        }
    }

    async fn link(&self, link: &LinkId) -> StoreResult<Option<LinkState>> {
        let mut conn = self.conn();
        let reply: redis::Value = self.run(conn.hgetall(self.keys.link(link))).await?;
        Ok(codec::link_from_reply(reply))
    }

    async fn link_timeline(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>> {
        let mut conn = self.conn();
        let raw: Vec<String> = self
            .run(conn.lrange(self.keys.link_timeline(link), 0, -1))
            .await?;
        Ok(raw
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect())
    }

    async fn set_link_verified(
        &self,
        link: &LinkId,
        session: &SessionId,
        verified: bool,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let key = self.keys.link(link);
        let flag = if verified { "1" } else { "0" };
        let (now, mut invocation) = (now_millis(), lua::SET_LINK_VERIFIED.prepare_invoke());
        let day = Day::of_millis(now);
        invocation.key(key).key(self.link_funnel(link, day));
        if let Some(outbox) = self.link_outbox(link) {
            invocation.key(outbox);
        }
        invocation
            .arg(flag)
            .arg(self.keys.events_channel())
            .arg(session.to_string())
            .arg(link.to_string())
            .arg(now)
            .arg(day.expire_at_millis());
        let counted: String = self.run(invocation.invoke_async(&mut conn)).await?;
        counted_metrics(&[counted]);
        Ok(())
    }

    async fn claim_link(&self, link: &LinkId, claim: &LinkClaim) -> StoreResult<bool> {
        let ttl = self.retention.links_ms();
        let mut conn = self.conn();
        let (now, mut invocation) = (now_millis(), lua::CLAIM_LINK.prepare_invoke());
        let day = Day::of_millis(now);
        invocation
            .key(self.keys.link(link))
            .key(self.link_funnel(link, day));
        if let Some(outbox) = self.link_outbox(link) {
            invocation.key(outbox);
        }
        invocation
            .arg(claim.owner.as_str())
            .arg(claim.product.as_str())
            .arg(&claim.institution)
            .arg(ttl)
            .arg(link.to_string())
            .arg(now)
            .arg(claim.funnel.as_deref().unwrap_or(""))
            .arg(day.expire_at_millis());
        if let Some(resources) = self.fetch_resources.get(claim.product.as_str()) {
            invocation.arg(resources);
        }
        let (claimed, counted): (i64, String) =
            self.run(invocation.invoke_async(&mut conn)).await?;
        if claimed == 0 {
            return Ok(false);
        }
        counted_metrics(&[counted]);
        let list = self.keys.user_links(&claim.owner);
        let mut pipe = redis::pipe();
        pipe.sadd(&list, link.to_string())
            .ignore()
            .pexpire(&list, ttl)
            .ignore();
        self.run(pipe.query_async::<()>(&mut conn)).await?;
        Ok(true)
    }

    async fn verification_session(
        &self,
        session: &SessionId,
        link: &LinkId,
        schedule_until: Option<Millis>,
    ) -> StoreResult<Option<Session>> {
        self.read_verification_session(session, link, schedule_until)
            .await
    }

    async fn record_verification(&self, v: &Verification) -> StoreResult<Vec<HealthTransition>> {
        self.record_verification_script(v).await
    }

    async fn delete_link(&self, link: &LinkId, owner: &ExternalId) -> StoreResult<bool> {
        let mut conn = self.conn();
        let mut invocation = lua::DELETE_LINK.prepare_invoke();
        invocation
            .key(self.keys.link(link))
            .key(self.keys.link_timeline(link))
            .key(self.keys.link_webhook_ids(link))
            .key(self.keys.link_health_history(link));
        if let Some(outbox) = self.link_outbox(link) {
            invocation.key(outbox);
        }
        invocation
            .arg(owner.as_str())
            .arg(link.to_string())
            .arg(now_millis());
        let deleted: i64 = self.run(invocation.invoke_async(&mut conn)).await?;
        // The owner's index is in another slot; a crash between the two leaves an id there
        // whose link is gone, which the list skips.
        let list = self.keys.user_links(owner);
        self.run(conn.srem::<_, _, i64>(&list, link.to_string()))
            .await?;
        if deleted == 1 {
            // Its place in the attention index and the check schedule (other slots again).
            crate::store::LinkHealthStore::forget_link_health(self, link).await?;
        }
        Ok(deleted == 1)
    }

    async fn user_links(&self, owner: &ExternalId) -> StoreResult<Vec<LinkId>> {
        let mut conn = self.conn();
        let ids: Vec<String> = self.run(conn.smembers(self.keys.user_links(owner))).await?;
        let mut links: Vec<LinkId> = ids.iter().filter_map(|s| LinkId::parse(s).ok()).collect();
        links.sort_by_key(|l| l.to_string());
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::keep_window;

    #[test]
    fn keep_windows_are_30_s_or_a_hundredth_of_a_short_retention() {
        let day = 86_400_000;
        assert_eq!(keep_window(59_999, 400 * day), 1);
        assert_eq!(keep_window(60_000, 400 * day), 2);
        assert_eq!(keep_window(60_000, 600_000), 10);
        assert_eq!(keep_window(60_000, 50), 60_000);
    }
}
