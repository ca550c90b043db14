//! After a link is made, one `historical_update` webhook per fetch resource (payloads as in the
//! guides), sent with the bearer token after a delay, retried with backoff, bounded in count.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::json;

use super::data::total;
use super::{Emulator, Link};

/// The `data` key Belvo uses for each resource's total.
fn total_key(resource: &str) -> String {
    match resource {
        "EMPLOYMENT_RECORDS" => "total_employment_record_profiles".into(),
        other => format!("total_{}", other.to_ascii_lowercase()),
    }
}

pub fn payloads(link: &Link) -> Vec<serde_json::Value> {
    link.fetch_resources
        .iter()
        .map(|resource| {
            json!({
                "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
                "webhook_type": resource,
                "process_type": "historical_update",
                "webhook_code": "historical_update",
                "link_id": link.id,
                "request_id": uuid::Uuid::new_v4().to_string(),
                "external_id": link.external_id,
                "data": { total_key(resource): total(resource, &link.id) },
            })
        })
        .collect()
}

/// Sends the link's webhooks in the background (when a webhook URL is configured).
pub fn schedule(emulator: &Emulator, link: &Link) {
    send(emulator, payloads(link));
}

/// Sends `payloads` in the background, in order, each retried with backoff (when a webhook URL
/// is configured).
pub fn send(emulator: &Emulator, payloads: Vec<serde_json::Value>) {
    let Some(target) = emulator.webhooks.clone() else {
        return;
    };
    let http = emulator.http.clone();
    let stats = Arc::clone(&emulator.counters);
    actix_web::rt::spawn(async move {
        tokio::time::sleep(target.delay).await;
        for payload in payloads {
            let mut backoff = target.delay.max(std::time::Duration::from_millis(100));
            let mut delivered = false;
            for attempt in 1..=target.attempts {
                let result = http
                    .post(&target.url)
                    .bearer_auth(target.token.expose_secret())
                    .timeout(target.timeout)
                    .json(&payload)
                    .send()
                    .await;
                match result {
                    Ok(r) if r.status().is_success() => {
                        delivered = true;
                        break;
                    }
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), attempt, "emulator webhook refused")
                    }
                    Err(e) => tracing::warn!(error = %e, attempt, "emulator webhook failed"),
                }
                if attempt < target.attempts {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
            let counter = if delivered {
                &stats.webhooks_sent
            } else {
                &stats.webhooks_failed
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
}
