//! Who is calling. Auth is an extractor, so a handler's signature shows who may call it:
//! `AppUser` for the mobile API, `Staff` / `Admin` for the console.

pub mod app_user;
pub mod audit;
pub mod sign_in;
pub mod staff;
pub mod staff_session;

pub use crate::jwt::{AppJwtVerifier, Role};
pub use app_user::AppUser;
pub use staff::{Admin, Staff, StaffError};
