//! The product's vocabulary: identifiers, products, callback events and session state.
//! Nothing in here knows about HTTP or Redis.

pub mod branding;
pub mod callback;
pub mod country;
pub mod explanation;
pub mod external_id;
pub mod ids;
pub mod session;
pub mod tax_id;
pub mod webhook;
