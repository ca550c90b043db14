//! The product's vocabulary: identifiers, products, callback events, session state, staff and
//! branding versions.
//! Nothing in here knows about HTTP or Redis.

pub mod branding;
pub mod branding_version;
pub mod callback;
pub mod consent;
pub mod country;
pub mod event;
pub mod explanation;
pub mod external_id;
pub mod funnel;
pub mod health;
pub mod ids;
pub mod institution;
pub mod session;
pub mod shard;
pub mod staff;
pub mod tax_id;
pub mod theme;
pub mod verification;
pub mod webhook;
