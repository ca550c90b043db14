//! The JSON shape of a session for the app.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::explanation::{explain, Explanation, Lang};
use crate::domain::session::{rfc3339, Millis, Session, Status, Warning};

#[derive(Serialize)]
pub struct SessionView<'a> {
    session_id: String,
    product: &'a str,
    platform: &'static str,
    status: Status,
    link_id: Option<String>,
    institution: Option<&'a str>,
    last_error: Option<LastError<'a>>,
    exit: Option<&'a crate::domain::session::ExitInfo>,
    warnings: Vec<WarningView<'a>>,
    /// Per-resource readiness; filled by webhooks.
    resources: BTreeMap<String, serde_json::Value>,
    created_at: String,
    updated_at: String,
    expires_at: String,
}

#[derive(Serialize)]
struct LastError<'a> {
    code: &'a str,
    message: Option<&'a str>,
    explanation: Explanation,
}

#[derive(Serialize)]
struct WarningView<'a> {
    code: &'a str,
    message: Option<&'a str>,
    at: String,
    explanation: Explanation,
}

impl<'a> SessionView<'a> {
    pub fn new(s: &'a Session, now: Millis, lang: Lang) -> Self {
        Self {
            session_id: s.record.id.to_string(),
            product: s.record.product.as_str(),
            platform: s.record.platform.as_str(),
            status: s.status_at(now),
            link_id: s.link_id.map(|l| l.to_string()),
            institution: s.institution.as_deref(),
            last_error: s.last_error.as_ref().map(|e| LastError {
                code: &e.code,
                message: e.message.as_deref(),
                explanation: explain(&e.code, lang),
            }),
            exit: s.exit.as_ref(),
            warnings: s.warnings.iter().map(|w| warning(w, lang)).collect(),
            resources: BTreeMap::new(),
            created_at: rfc3339(s.record.created_at),
            updated_at: rfc3339(s.updated_at),
            expires_at: rfc3339(s.record.token_expires_at),
        }
    }
}

fn warning(w: &Warning, lang: Lang) -> WarningView<'_> {
    WarningView {
        code: &w.code,
        message: w.message.as_deref(),
        at: rfc3339(w.at),
        explanation: explain(&w.code, lang),
    }
}
