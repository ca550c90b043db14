//! Graceful shutdown, in the order load balancers need: on SIGTERM readiness goes false first
//! (`/readyz` answers 503 while everything else is still served), after
//! `server.shutdown_delay` the listener closes and waiting long-polls answer at once, and
//! in-flight requests get `server.shutdown_timeout` to finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use tokio::sync::watch;

/// Where this replica is in its shutdown; shared by the signal task and the handlers.
#[derive(Debug)]
pub struct Shutdown {
    stopping: AtomicBool,
    draining: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            stopping: AtomicBool::new(false),
            draining: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    /// Readiness is false from now on.
    pub fn begin(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether a shutdown has begun (readiness answers 503).
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The listener is closing: long-polls should answer now instead of waiting.
    pub fn drain(&self) {
        self.begin();
        self.draining.send_replace(true);
    }

    /// Resolves once [`Shutdown::drain`] is called (at once if it was).
    pub async fn drained(&self) {
        let mut draining = self.draining.subscribe();
        let _ = draining.wait_for(|d| *d).await;
    }

    /// Waits for SIGTERM or SIGINT, then stops `server` in order: readiness false, then (after
    /// `delay`, skipped for SIGINT — a person at a terminal) the listener closes and in-flight
    /// requests drain (the server's own shutdown timeout bounds that).
    pub async fn on_signal(&self, server: ServerHandle, delay: Duration) {
        let signal = wait_for_signal().await;
        self.begin();
        let delay = if signal == "SIGINT" {
            Duration::ZERO
        } else {
            delay
        };
        tracing::info!(
            signal,
            delay_ms = delay.as_millis() as u64,
            "shutting down: not ready"
        );
        tokio::time::sleep(delay).await;
        tracing::info!("closing the listener; draining in-flight requests");
        self.drain();
        server.stop(true).await;
    }
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT; graceful shutdown is unavailable");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_wakes_waiters_and_implies_not_ready() {
        let shutdown = std::sync::Arc::new(Shutdown::default());
        assert!(!shutdown.is_stopping());
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.drained().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        shutdown.drain();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert!(shutdown.is_stopping());
        // Already drained: resolves at once.
        tokio::time::timeout(Duration::from_millis(100), shutdown.drained())
            .await
            .expect("immediate");
    }
}
