//! Links: made through the API flow (`create.rs`) and their health (`health.rs`) — the service
//! between the thin HTTP routes and the Belvo client / store adapters, beside `sessions/` for
//! links made in the widget. `crate::scheduler` re-reads every link's record in the background.

mod create;
pub mod health;

pub use create::{create_link, CreateLinkRequest, CreatedLink};
