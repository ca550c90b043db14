//! Integration tests: the real server on a random port, a real Redis (started by
//! `scripts/test.sh`, given as TEST_REDIS_URL), the real reqwest client against the emulator.

mod auth;
mod callbacks;
mod concurrency;
mod emulator;
mod errors;
mod helpers;
mod hostile_input;
mod links;
mod long_poll;
mod metrics;
mod redis_outage;
mod store_suite;
mod webhooks;
mod well_known;
mod widget_sessions;
