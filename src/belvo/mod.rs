//! Belvo's API: request/response types from the guides and the one HTTP client that speaks them.
//! The emulator is reached by base URL alone; there is no emulator-only path here.

mod client;
pub mod types;

pub use client::{BelvoClient, BelvoError, Pool, WidgetToken};
