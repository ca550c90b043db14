//! Who is calling. Auth is an extractor, so a handler's signature shows who may call it.

pub mod app_user;
pub mod jwt;

pub use app_user::AppUser;
pub use jwt::{AppJwtVerifier, Role};
