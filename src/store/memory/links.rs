//! [`Links`] in memory, as `record_webhook.lua` and the link scripts do it.

use std::collections::BTreeSet;
use std::time::Instant;

use async_trait::async_trait;

use super::{Entry, Inner, MemoryStore};
use crate::domain::event::EventType;
use crate::domain::external_id::ExternalId;
use crate::domain::funnel;
use crate::domain::health::{HealthChange, HealthTransition};
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{now_millis, Millis, Session, MAX_EVENTS};
use crate::domain::verification::Verification;
use crate::domain::webhook::{
    every_resource_ready, LinkClaim, LinkState, WebhookApplied, WebhookUpdate, MAX_WEBHOOK_IDS,
    WEBHOOK_IDS_SLACK,
};
use crate::store::{codec, DueEntry, LinkHealthStore, Links, Sessions, StoreResult};

impl MemoryStore {
    /// As `resources_ready` in `outbox_add.lua`: once every fetch resource of the link's product
    /// is ready, flags the link, writes `link.resources_ready` and counts the funnel's step
    /// (once per link).
    fn resources_ready(&self, inner: &mut Inner, link: &LinkId, now_ms: i64) {
        let Inner { links, outbox, .. } = inner;
        let Some(entry) = links.get_mut(link) else {
            return;
        };
        let f = &entry.fields;
        let expected = f
            .get("product")
            .and_then(|p| self.fetch_resources.get(p))
            .map_or(&[][..], Vec::as_slice);
        if f.contains_key("resources_ready")
            || !every_resource_ready(expected, |k| f.get(k).cloned())
        {
            return;
        }
        entry
            .fields
            .insert("resources_ready".into(), now_ms.to_string());
        if self.events {
            let event = EventType::LinkResourcesReady;
            outbox.add_link_event(&mut entry.fields, &link.to_string(), event, now_ms, &[]);
        }
        count_link_step(inner, link, funnel::RESOURCES_READY, now_ms);
    }
}

/// As `count_link_step` in `outbox_add.lua`: counts `step` under the funnel prefix the link's
/// claim kept (none for a link made through the API).
fn count_link_step(inner: &mut Inner, link: &LinkId, step: &str, now_ms: i64) {
    let prefix = inner.links.get(link).and_then(|e| e.fields.get("funnel"));
    if let Some(field) = prefix.map(|prefix| format!("{prefix}{step}")) {
        super::funnel::count(inner, now_ms, &[field]);
    }
}

#[async_trait]
impl Links for MemoryStore {
    async fn record_webhook(&self, update: &WebhookUpdate) -> StoreResult<WebhookApplied> {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::sweep(&mut inner, now);
        let link = inner
            .links
            .entry(update.link)
            .or_insert_with(|| Entry::new(now + self.retention.links));
        if link.webhook_ids.contains(&update.webhook_id) {
            return Ok(WebhookApplied::Duplicate);
        }
        link.webhook_ids.push_back(update.webhook_id.clone());
        // Trimmed in batches, as `record_webhook.lua` does: the latest `MAX_WEBHOOK_IDS` stay.
        if link.webhook_ids.len() > MAX_WEBHOOK_IDS + WEBHOOK_IDS_SLACK {
            let oldest = link.webhook_ids.len() - MAX_WEBHOOK_IDS;
            link.webhook_ids.drain(..oldest);
        }
        let f = &mut link.fields;
        let ready_before = f.contains_key("resources_ready");
        f.insert("webhook_at".into(), update.now.to_string());
        let external_id = update.external_id.as_ref().map(|e| e.as_str());
        let mismatch = match (external_id, f.get("owner")) {
            (Some(seen), Some(owner)) => seen != owner,
            _ => false,
        };
        if mismatch {
            let n: u32 = f
                .get("mismatches")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            f.insert("mismatches".into(), (n + 1).to_string());
        } else {
            if let Some(e) = external_id {
                f.entry("webhook_external_id".into())
                    .or_insert_with(|| e.to_owned());
            }
            if let Some((resource, state)) = &update.resource {
                f.insert(
                    format!("res:{resource}"),
                    serde_json::to_string(state).unwrap(),
                );
            }
        }
        if link.timeline.len() < MAX_EVENTS as usize {
            let mut e = update.timeline_entry.clone();
            e["effect"] = if mismatch { "mismatch" } else { "applied" }.into();
            link.timeline.push(e);
        }
        link.expires = link.expires.max(now + self.retention.links);
        let session = link
            .fields
            .get("session")
            .and_then(|s| SessionId::parse(s).ok());
        let consent = link.fields.get("consent");
        let has_consent = consent.is_some();
        let consent_open = consent.is_some_and(|c| crate::domain::webhook::consent_open(c));
        if !mismatch && update.resource.is_some() {
            self.resources_ready(&mut inner, &update.link, update.now);
        }
        drop(inner);
        // As `record_webhook.lua`: a resource's data on a link whose resources were all ready,
        // without a consent, wakes nobody (nothing listening can change).
        let quiet = ready_before && update.resource.is_some() && !has_consent && !mismatch;
        if let Some(id) = session.filter(|_| !quiet) {
            let _ = self.changes.send(id);
        }
        Ok(if mismatch {
            WebhookApplied::Mismatch
        } else {
            WebhookApplied::Recorded {
                session,
                consent_open,
            }
        })
    }

    async fn link(&self, link: &LinkId) -> StoreResult<Option<LinkState>> {
        let inner = self.lock();
        Ok(inner
            .links
            .get(link)
            .filter(|e| e.expires > Instant::now())
            .map(|e| codec::link_from_fields(&e.fields)))
    }

    async fn link_timeline(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>> {
        let inner = self.lock();
        Ok(inner
            .links
            .get(link)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.timeline.clone())
            .unwrap_or_default())
    }

    async fn set_link_verified(
        &self,
        link: &LinkId,
        session: &SessionId,
        verified: bool,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        let owned = |e: &&mut Entry| e.fields.get("session") == Some(&session.to_string());
        let Some(entry) = inner.links.get_mut(link).filter(owned) else {
            return Ok(());
        };
        let flag = if verified { "1" } else { "0" };
        entry.fields.insert("verified".into(), flag.into());
        // `verified` may already be set by the link's claim: the verdict announced is kept apart.
        let before = entry.fields.insert("verdict".into(), flag.into());
        let now = now_millis();
        if verified && before.as_deref() != Some(flag) {
            count_link_step(&mut inner, link, funnel::LINK_VERIFIED, now);
        }
        if self.events && before.as_deref() != Some(flag) {
            let event = if verified {
                EventType::LinkVerified
            } else {
                EventType::LinkVerificationFailed
            };
            let Inner { links, outbox, .. } = &mut *inner;
            if let Some(entry) = links.get_mut(link) {
                outbox.add_link_event(&mut entry.fields, &link.to_string(), event, now, &[]);
            }
        }
        drop(inner);
        let _ = self.changes.send(*session);
        Ok(())
    }

    async fn claim_link(&self, link: &LinkId, claim: &LinkClaim) -> StoreResult<bool> {
        let expires = Instant::now() + self.retention.links;
        let mut inner = self.lock();
        let entry = inner
            .links
            .entry(*link)
            .or_insert_with(|| Entry::new(expires));
        let owner = claim.owner.to_string();
        if entry.fields.get("owner").is_some_and(|o| *o != owner) {
            return Ok(false);
        }
        for (k, v) in [
            ("owner", owner),
            ("product", claim.product.to_string()),
            ("institution", claim.institution.clone()),
            ("verified", "1".to_owned()),
        ] {
            entry.fields.insert(k.into(), v);
        }
        if let Some(prefix) = &claim.funnel {
            entry
                .fields
                .entry("funnel".into())
                .or_insert_with(|| prefix.clone());
        }
        entry.expires = entry.expires.max(expires);
        self.resources_ready(&mut inner, link, now_millis());
        let (links, exp) = inner
            .user_links
            .entry(claim.owner.clone())
            .or_insert_with(|| (BTreeSet::new(), expires));
        links.insert(*link);
        *exp = expires;
        Ok(true)
    }

    async fn verification_session(
        &self,
        session: &SessionId,
        link: &LinkId,
        schedule_until: Option<Millis>,
    ) -> StoreResult<Option<Session>> {
        if let Some(at) = schedule_until {
            let entry = DueEntry::Verify {
                session: *session,
                link: *link,
            };
            self.schedule(&entry, at, true).await?;
        }
        self.session(session).await
    }

    async fn record_verification(&self, v: &Verification) -> StoreResult<Vec<HealthTransition>> {
        // The same steps as `record_verification.lua`, in its order; the verdict wakes waiters.
        let mut transitions = Vec::new();
        if let Some(matched) = &v.matched {
            self.claim_link(&v.link, &matched.claim).await?;
            let reconnect = matched.reconnected.then_some(HealthChange::Reconnected);
            let record = matched.record.map(HealthChange::Record);
            for change in reconnect.iter().chain(record.iter()) {
                transitions.extend(self.apply_health(&v.link, change, v.now).await?);
            }
            let check = DueEntry::Check(v.link);
            self.schedule(&check, matched.first_check_at, false).await?;
        }
        self.set_link_verified(&v.link, &v.session, v.matched.is_some())
            .await?;
        let verify = DueEntry::Verify {
            session: v.session,
            link: v.link,
        };
        self.unschedule(&verify).await?;
        Ok(transitions)
    }

    async fn delete_link(&self, link: &LinkId, owner: &ExternalId) -> StoreResult<bool> {
        let mut inner = self.lock();
        if let Some((links, _)) = inner.user_links.get_mut(owner) {
            links.remove(link);
        }
        let owned = inner.links.get(link).is_some_and(|e| {
            e.expires > Instant::now()
                && e.fields.get("owner").map(String::as_str) == Some(owner.as_str())
        });
        if owned {
            if let Some(mut entry) = inner.links.remove(link) {
                if self.events {
                    let (id, now) = (link.to_string(), now_millis());
                    let event = EventType::LinkDeleted;
                    inner
                        .outbox
                        .add_link_event(&mut entry.fields, &id, event, now, &[]);
                }
            }
            inner.health_history.remove(link);
            for index in inner.health_index.values_mut() {
                index.remove(link);
            }
            inner
                .due
                .remove(&crate::store::DueEntry::Check(*link).member());
        }
        Ok(owned)
    }

    async fn user_links(&self, owner: &ExternalId) -> StoreResult<Vec<LinkId>> {
        let inner = self.lock();
        let mut links: Vec<LinkId> = inner
            .user_links
            .get(owner)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(set, _)| set.iter().copied().collect())
            .unwrap_or_default();
        links.sort_by_key(|l| l.to_string());
        Ok(links)
    }
}
