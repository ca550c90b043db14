//! Display names from Belvo's institutions API (`GET /api/institutions/`), kept in memory:
//! read at start, again after `institutions.names_ttl`, in the background. While Belvo fails
//! the last names known stay (or none: callers show the code).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::belvo::BelvoClient;

/// Belvo's pages of institutions read at most (100 each).
const MAX_PAGES: u32 = 20;

/// After a failed read, the next is tried this much later at the soonest.
const RETRY_AFTER: Duration = Duration::from_secs(30);

pub struct DisplayNames {
    belvo: BelvoClient,
    ttl: Duration,
    names: RwLock<Arc<HashMap<String, String>>>,
    /// When the names are next read; held while a read runs, so one runs at a time.
    next_read: Mutex<Option<Instant>>,
}

impl DisplayNames {
    pub fn new(belvo: BelvoClient, ttl: Duration) -> Self {
        Self {
            belvo,
            ttl,
            names: RwLock::new(Arc::new(HashMap::new())),
            next_read: Mutex::new(None),
        }
    }

    /// The names known now, without asking Belvo.
    pub fn cached(&self) -> Arc<HashMap<String, String>> {
        self.names.read().expect("names lock").clone()
    }

    /// The names known now; read first (within Belvo's timeout) when none was ever read.
    pub async fn get_or_fetch(&self) -> Arc<HashMap<String, String>> {
        if self.cached().is_empty() {
            self.refresh_if_stale().await;
        }
        self.cached()
    }

    /// Reads the names again when they are due.
    pub async fn refresh_if_stale(&self) {
        let mut next = self.next_read.lock().await;
        if next.is_some_and(|at| Instant::now() < at) {
            return;
        }
        match self.fetch().await {
            Ok(names) => {
                tracing::debug!(count = names.len(), "institution names read from Belvo");
                *self.names.write().expect("names lock") = Arc::new(names);
                *next = Some(Instant::now() + self.ttl);
            }
            Err(e) => {
                tracing::warn!(error = %e, "institution names not read: keeping the last known");
                *next = Some(Instant::now() + RETRY_AFTER.min(self.ttl));
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, String>, crate::belvo::BelvoError> {
        let mut names = HashMap::new();
        for page in 1..=MAX_PAGES {
            let body = self.belvo.institutions(page).await?;
            for item in body["results"].as_array().into_iter().flatten() {
                if let (Some(code), Some(display)) =
                    (item["name"].as_str(), item["display_name"].as_str())
                {
                    names.insert(code.to_owned(), display.to_owned());
                }
            }
            if body["next"].is_null() {
                break;
            }
        }
        Ok(names)
    }
}
