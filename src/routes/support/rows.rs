//! One session as a row of the console's tables.

use crate::domain::session::{Millis, Session};
use crate::routes::console::human_time;

pub struct SessionRow {
    pub id: String,
    pub status: &'static str,
    pub product: String,
    pub platform: &'static str,
    /// `—` when the user never got as far as choosing one.
    pub institution: String,
    /// The Belvo error code that ended it, if any.
    pub error_code: String,
    pub created: String,
    pub updated: String,
}

impl SessionRow {
    pub fn new(s: &Session, now: Millis) -> Self {
        Self {
            id: s.record.id.to_string(),
            status: s.status_at(now).as_str(),
            product: s.record.product.to_string(),
            platform: s.record.platform.as_str(),
            institution: s.institution.clone().unwrap_or_else(|| "—".into()),
            error_code: s
                .last_error
                .as_ref()
                .map(|e| e.code.clone())
                .unwrap_or_default(),
            created: human_time(s.record.created_at),
            updated: human_time(s.updated_at),
        }
    }
}
