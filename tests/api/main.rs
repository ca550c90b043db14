//! Integration tests: the real server on a random port, a real Redis (started by
//! `scripts/test.sh`, given as TEST_REDIS_URL), the real reqwest client against the emulator.

mod auth;
mod branding_admin;
mod callbacks;
mod concurrency;
mod consents;
mod console_helpers;
mod emulator;
mod emulator_sdk;
mod error_registry;
mod errors;
mod events;
mod funnel;
mod helpers;
mod hostile_input;
mod institutions;
mod key_migration;
mod link_checks;
mod link_health;
mod links;
mod long_poll;
mod metrics;
mod openapi;
#[path = "../support/own_redis.rs"]
mod own_redis;
mod reconnect;
mod redis_outage;
mod resources_ready;
mod round_trips;
mod session_bytes;
mod staff_login;
mod staff_store_suite;
mod store_suite;
#[path = "../support/stored.rs"]
mod stored;
mod support_console;
mod webhooks;
mod well_known;
mod widget_sessions;
mod widget_url;
