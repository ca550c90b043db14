//! Links: made through the API flow (`create.rs`), their health (`health.rs`) and the
//! background scheduler that re-reads Belvo's record of every link and finishes verifications
//! (`scheduler.rs`) — the service between the thin HTTP routes and the Belvo client / store
//! adapters, beside `sessions/` for links made in the widget.

mod create;
pub mod health;
pub mod scheduler;

pub use create::{create_link, CreateLinkRequest, CreatedLink};
