//! Opening widget sessions and recording what the widget reports: the service between the thin
//! HTTP routes and the Belvo client / store adapters.

mod open;
mod record;
pub mod token_budget;
pub mod verify;
pub mod waiting;
pub mod widget;

pub use open::{open_session, ConsentRequest, IdentificationRequest, OpenRequest, OpenedSession};
pub use record::record_event;
