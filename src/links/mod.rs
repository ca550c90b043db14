//! Links made through the API flow: the service between the thin HTTP routes and the Belvo
//! client / store adapters, beside `sessions/` for links made in the widget.

mod create;

pub use create::{create_link, CreateLinkRequest, CreatedLink};
