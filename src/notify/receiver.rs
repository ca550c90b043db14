//! The demo's own event receiver (embedded mode, `/demo/events`): what a company's backend does
//! with the events this server sends — verify each delivery's Standard Webhooks signature, then
//! keep it. Its secret is made at start, so the demo needs no configuration; it keeps the latest
//! [`KEPT`] verified events in memory and counts the deliveries it refused.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine;
use secrecy::SecretString;
use serde_json::Value;

/// Verified events kept (the oldest goes first).
pub const KEPT: usize = 50;

/// One verified delivery.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`: the same on every attempt of one event.
    pub id: String,
    pub event_type: String,
    pub timestamp: String,
    /// `session <id>` or `link <id>`, as the event's data names it.
    pub subject: String,
    /// The body, indented.
    pub json: String,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the signature does not verify: {0}")]
    Signature(standardwebhooks::WebhookError),
    #[error("the body is not a JSON event")]
    Body,
}

pub struct DemoReceiver {
    verifier: standardwebhooks::Webhook,
    events: Mutex<VecDeque<Received>>,
    refused: AtomicU64,
}

impl DemoReceiver {
    /// A receiver with a fresh secret (`whsec_` + 32 random bytes in base64), and that secret
    /// for the notifier to sign with.
    pub fn generate() -> (Self, SecretString) {
        let bytes: [u8; 32] = rand::random();
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        let verifier =
            standardwebhooks::Webhook::new(&secret).expect("a whsec_ secret of base64 bytes");
        let receiver = Self {
            verifier,
            events: Mutex::new(VecDeque::new()),
            refused: AtomicU64::new(0),
        };
        (receiver, SecretString::from(secret))
    }

    /// Verifies one delivery (`webhook-id`, a `webhook-timestamp` within five minutes, and
    /// `webhook-signature` over both and the body) and keeps it; a repeated delivery of one
    /// event replaces its earlier copy, as a backend dedupes on `webhook-id`.
    pub fn receive(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), Refused> {
        let refuse = |why| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            why
        };
        self.verifier
            .verify(body, headers)
            .map_err(|e| refuse(Refused::Signature(e)))?;
        let event: Value = serde_json::from_slice(body).map_err(|_| refuse(Refused::Body))?;
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let received = Received {
            id,
            event_type: text(&event["type"]),
            timestamp: text(&event["timestamp"]),
            subject: subject(&event["data"]),
            json: serde_json::to_string_pretty(&event).unwrap_or_default(),
        };
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.retain(|e| e.id != received.id);
        events.push_front(received);
        events.truncate(KEPT);
        Ok(())
    }

    /// The kept events, newest first.
    pub fn latest(&self) -> Vec<Received> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.iter().cloned().collect()
    }

    /// Deliveries refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn subject(data: &Value) -> String {
    ["session_id", "link_id"]
        .iter()
        .filter_map(|key| {
            let id = data[*key].as_str()?;
            Some(format!("{} {id}", key.trim_end_matches("_id")))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(receiver_secret: &SecretString, id: &str, body: &str) -> http::HeaderMap {
        use secrecy::ExposeSecret;
        let signer = standardwebhooks::Webhook::new(receiver_secret.expose_secret()).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = signer.sign(id, now, body.as_bytes()).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    const BODY: &str = r#"{"type":"session.succeeded","timestamp":"2026-01-01T00:00:00Z","data":{"session_id":"s1","link_id":"l1","sequence":1}}"#;

    #[test]
    fn a_signed_event_is_kept_once_and_a_forged_one_is_counted() {
        let (receiver, secret) = DemoReceiver::generate();
        let headers = signed(&secret, "evt_1", BODY);
        receiver.receive(&headers, BODY.as_bytes()).unwrap();
        receiver.receive(&headers, BODY.as_bytes()).unwrap();
        let kept = receiver.latest();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].event_type, "session.succeeded");
        assert_eq!(kept[0].subject, "session s1, link l1");

        let (_, other) = DemoReceiver::generate();
        let forged = signed(&other, "evt_2", BODY);
        assert!(receiver.receive(&forged, BODY.as_bytes()).is_err());
        let tampered = BODY.replace("s1", "s2");
        assert!(receiver.receive(&headers, tampered.as_bytes()).is_err());
        assert_eq!(receiver.refused(), 2);
        assert_eq!(receiver.latest().len(), 1);
    }

    #[test]
    fn only_the_latest_events_are_kept() {
        let (receiver, secret) = DemoReceiver::generate();
        for i in 0..KEPT + 5 {
            let headers = signed(&secret, &format!("evt_{i}"), BODY);
            receiver.receive(&headers, BODY.as_bytes()).unwrap();
        }
        let kept = receiver.latest();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0].id, format!("evt_{}", KEPT + 4));
    }
}
