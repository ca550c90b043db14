//! `POST /control/reset` (Basic auth): puts the emulator back to a fresh day without dropping
//! its links or tokens, so a test suite or a demo can replay the `forbidden_by_host` rows.
//! It clears the attempt counters per username and the call counters of `/_emulator/stats`.
//! Each new kind of state a test can set (a link's broken state, consents) adds its line to
//! [`reset`] and its name to the answer.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::api_auth::denied;
use super::{Counters, Emulator};

pub async fn reset_route(emulator: web::Data<Emulator>, req: HttpRequest) -> HttpResponse {
    if let Some(denied) = denied(&emulator, &req) {
        return denied;
    }
    HttpResponse::Ok().json(json!({ "cleared": reset(&emulator) }))
}

/// Clears what a test may have piled up; answers what was cleared.
pub fn reset(emulator: &Emulator) -> Vec<&'static str> {
    let mut state = emulator.state();
    state.attempts.clear();
    // Links broken by `/control/links/{id}/break` read `valid` again (deleted ones stay gone).
    for link in state.links.values_mut() {
        link.status = "valid";
        link.consent = None;
    }
    drop(state);
    emulator.counters.clear();
    vec![
        "attempt_counters",
        "call_counters",
        "broken_links",
        "consents",
    ]
}

impl Counters {
    fn clear(&self) {
        let all: [&AtomicU64; 6] = [
            &self.token,
            &self.links,
            &self.data,
            &self.link_reads,
            &self.webhooks_sent,
            &self.webhooks_failed,
        ];
        for counter in all {
            counter.store(0, Ordering::Relaxed);
        }
    }
}
