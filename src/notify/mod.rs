//! Delivering outbound events (SPEC §13): each replica runs one loop that takes events from the
//! outbox — new ones, retries that are due, and those another replica held too long (it died) —
//! signs each per Standard Webhooks and posts it to the endpoints that want it. Each endpoint has
//! its own consumer group, so it gets each event once (at least once across crashes, always
//! with the same `webhook-id`). A failure is retried with exponential backoff and jitter until
//! `notify.max_age`, then the event is dead for that endpoint (kept in the dead stream).

pub mod deliveries;
pub mod receiver;
mod signer;

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::TryRecvError;

use crate::config::notify::NotifySettings;
use crate::config::Settings;
use crate::domain::event::{self, EventPattern};
use crate::domain::session::now_millis;
use crate::store::{DynStore, OutboxEntry};
use signer::Signer;

/// Events taken at once per endpoint (and sent concurrently).
const BATCH: usize = 64;
/// How often a replica trims the outbox past what every endpoint has.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// One configured receiver, ready to sign.
struct Target {
    url: url::Url,
    events: Vec<EventPattern>,
    group: String,
    signer: Signer,
}

/// The delivery loop's parts.
pub struct Notifier {
    store: DynStore,
    settings: NotifySettings,
    targets: Vec<Target>,
    http: reqwest::Client,
    /// This replica's consumer name in every group.
    consumer: String,
}

/// An endpoint's consumer group: named after its URL, so replicas agree and a reordered
/// configuration keeps each endpoint's progress.
pub fn group_name(url: &url::Url) -> String {
    let digest = Sha256::digest(url.as_str().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("ep-{hex}")
}

/// The `webhook-id` of an event: the same on every attempt and every replica.
pub fn webhook_id(entry_id: &str) -> String {
    format!("evt_{entry_id}")
}

/// The `webhook-id` an outbox entry is sent with: a replayed event keeps its original's.
fn entry_webhook_id(entry: &OutboxEntry) -> String {
    entry
        .fields
        .get("webhook_id")
        .cloned()
        .unwrap_or_else(|| webhook_id(&entry.id))
}

impl Notifier {
    /// The notifier for `settings`, or none when no endpoint is configured. Makes every
    /// endpoint's consumer group now when Redis answers (else the loop keeps trying): a group
    /// starts at the oldest event still kept, so none written before it exists is missed.
    pub async fn new(
        store: DynStore,
        settings: &Settings,
        consumer: String,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        let notify = &settings.notify;
        if !notify.enabled() {
            return Ok(None);
        }
        let mut targets = Vec::new();
        for endpoint in &notify.endpoints {
            let secret = settings
                .secrets
                .notify
                .get(&endpoint.secret_env)
                .ok_or_else(|| anyhow::anyhow!("{} is not set", endpoint.secret_env))?;
            let signer = Signer::new(secret.expose_secret())
                .map_err(|e| anyhow::anyhow!("{}: {e}", endpoint.secret_env))?;
            let group = group_name(&endpoint.url);
            if let Err(e) = store.outbox_join(&group).await {
                tracing::warn!(error = %e, group, "outbox group not made yet: retried");
            }
            targets.push(Target {
                url: endpoint.url.clone(),
                events: endpoint.events.clone(),
                group,
                signer,
            });
        }
        let http = reqwest::Client::builder()
            .timeout(notify.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Some(Arc::new(Self {
            store,
            settings: notify.clone(),
            targets,
            http,
            consumer,
        })))
    }

    /// Runs the delivery loop in the background (when this replica delivers).
    pub fn spawn(self: Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.settings
            .deliver
            .then(|| tokio::spawn(async move { self.run().await }))
    }

    async fn run(&self) {
        // A change on any replica may have written an event: look at once.
        let mut changes = self.store.subscribe();
        for target in &self.targets {
            while let Err(e) = self.store.outbox_join(&target.group).await {
                tracing::warn!(error = %e, group = target.group, "outbox group not made yet: retried");
                tokio::time::sleep(self.settings.poll).await;
            }
        }
        let mut trimmed_at = tokio::time::Instant::now();
        let mut looked_back_at: Option<tokio::time::Instant> = None;
        loop {
            // Retries due and entries another replica held too long are looked for every
            // `poll` (as `notify.poll` says), not after every change: that look is a range
            // read of each shard's pending entries, and changes come with every event written.
            let look_back = looked_back_at.is_none_or(|at| at.elapsed() >= self.settings.poll);
            if look_back {
                looked_back_at = Some(tokio::time::Instant::now());
            }
            let handled = self.pass(look_back).await;
            if trimmed_at.elapsed() >= TRIM_EVERY {
                trimmed_at = tokio::time::Instant::now();
                self.tend().await;
            }
            if handled > 0 {
                continue;
            }
            tokio::select! {
                _ = changes.recv() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
            // A burst of changes is one pass over every shard's stream, not one per change.
            while let Ok(_) | Err(TryRecvError::Lagged(_)) = changes.try_recv() {}
        }
    }

    /// Trims the outbox past what every endpoint has, and reports the oldest undelivered
    /// event's age per endpoint.
    pub async fn tend(&self) {
        let groups: Vec<String> = self.targets.iter().map(|t| t.group.clone()).collect();
        if let Err(e) = self.store.outbox_trim(&groups).await {
            tracing::warn!(error = %e, "outbox trim failed");
        }
        for group in &groups {
            match self.store.outbox_oldest_undelivered(group).await {
                Ok(oldest) => {
                    let ms = oldest.map_or(0, |at| (now_millis() - at).max(0));
                    crate::metrics::events_oldest_undelivered(
                        group,
                        Duration::from_millis(ms as u64),
                    );
                }
                Err(e) => tracing::warn!(error = %e, "outbox age not read"),
            }
        }
    }

    /// One look at every endpoint's group (all at once, so a slow endpoint does not hold up
    /// the others): with `look_back`, due retries and takeovers first; then new events, each
    /// delivered; returns how many events were handled.
    async fn pass(&self, look_back: bool) -> usize {
        let passes = self
            .targets
            .iter()
            .map(|target| self.pass_one(target, look_back));
        futures_util::future::join_all(passes)
            .await
            .into_iter()
            .sum()
    }

    async fn pass_one(&self, target: &Target, look_back: bool) -> usize {
        let due = |attempts: u64| self.retry_delay(attempts);
        let claimed = if look_back {
            self.store
                .outbox_claim_due(
                    &target.group,
                    &self.consumer,
                    BATCH,
                    self.settings.claim_idle(),
                    &due,
                )
                .await
        } else {
            Ok(Vec::new())
        };
        let fresh = self
            .store
            .outbox_read(&target.group, &self.consumer, BATCH)
            .await;
        let mut batch = Vec::new();
        for result in [claimed, fresh] {
            match result {
                Ok(entries) => batch.extend(entries),
                Err(e) => tracing::warn!(error = %e, "outbox read failed"),
            }
        }
        futures_util::future::join_all(batch.iter().map(|e| self.deliver(target, e))).await;
        batch.len()
    }

    /// The delay before attempt `attempts + 1`: `backoff` doubled per attempt, up to
    /// `max_backoff`, less up to a fifth at random (so retries of many events spread out).
    fn retry_delay(&self, attempts: u64) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30) as u32;
        let delay = self
            .settings
            .backoff
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.settings.max_backoff);
        delay.mul_f64(1.0 - rand::random::<f64>() * 0.2)
    }

    /// One attempt of one event to one endpoint, and what follows from its answer.
    async fn deliver(&self, target: &Target, entry: &OutboxEntry) {
        let group = &target.group;
        let event_type = entry.fields.get("type").map(String::as_str).unwrap_or("");
        // A replayed event goes to the one endpoint it died for.
        let for_another = entry
            .fields
            .get("only_group")
            .is_some_and(|only| only != group);
        if for_another || !target.events.iter().any(|p| p.matches(event_type)) {
            crate::metrics::event_delivery("skipped");
            self.settle(self.store.outbox_ack(group, &entry.id).await);
            return;
        }
        let Some(body) = event::body(&entry.fields, self.settings.include_sub) else {
            tracing::warn!(event_id = %entry.id, event_type, "unreadable outbound event: dead");
            crate::metrics::event_delivery("dead");
            let dead = self
                .store
                .outbox_dead(group, entry, "unreadable event")
                .await;
            self.settle(dead);
            return;
        };
        let answer = self.post(target, &entry_webhook_id(entry), body).await;
        let url = target.url.as_str();
        match answer {
            Ok(()) => {
                tracing::info!(event_id = %entry.id, event_type, url, attempts = entry.deliveries, "event delivered");
                crate::metrics::event_delivery("delivered");
                self.settle(self.store.outbox_ack(group, &entry.id).await);
            }
            Err(answer) => {
                // A replayed event's age counts from its replay.
                let at = entry
                    .fields
                    .get("replayed_at")
                    .and_then(|at| at.parse().ok())
                    .or_else(|| event::occurred_at(&entry.fields))
                    .unwrap_or(0);
                let age = Duration::from_millis((now_millis() - at).max(0) as u64);
                if age >= self.settings.max_age {
                    tracing::warn!(event_id = %entry.id, event_type, url, %answer, attempts = entry.deliveries, "event dead: not delivered within notify.max_age");
                    crate::metrics::event_delivery("dead");
                    self.settle(self.store.outbox_dead(group, entry, &answer).await);
                } else {
                    tracing::info!(event_id = %entry.id, event_type, url, %answer, attempts = entry.deliveries, "event delivery failed: retried later");
                    crate::metrics::event_delivery("retried");
                    let later = self
                        .store
                        .outbox_retry_later(group, &self.consumer, &entry.id)
                        .await;
                    self.settle(later);
                }
            }
        }
    }

    /// Signs and posts the body; `Err` says what the endpoint answered instead of a 2xx.
    async fn post(&self, target: &Target, id: &str, body: String) -> Result<(), String> {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = target.signer.sign(id, timestamp, &body);
        let response = self
            .http
            .post(target.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    format!("not reached: {e}")
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }

    /// A store write after an attempt that failed: the entry stays held, so it is retried (or
    /// taken over) later anyway.
    fn settle(&self, result: crate::store::StoreResult<()>) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "outbox update failed: the event is retried later");
        }
    }
}
