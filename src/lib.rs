//! belvo-bff: a backend-for-frontend between mobile apps and Belvo's hosted widget.
#![forbid(unsafe_code)]

pub mod auth;
pub mod belvo;
pub mod branding;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod domain;
pub mod emulator;
pub mod error;
pub mod error_code;
pub mod institutions;
pub mod jwt;
pub mod links;
pub mod metrics;
pub mod notify;
pub mod pages;
pub mod password;
pub mod products;
pub mod routes;
pub mod scheduler;
pub mod sessions;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
