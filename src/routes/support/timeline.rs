//! A session's story for support: its callbacks and its link's webhooks in time order, each with
//! the explanation of its Belvo code (SPEC §7) and the raw values Belvo sent.

use crate::domain::explanation::{explain, Explanation, Lang};
use crate::routes::console::human_time;

pub struct TimelineRow {
    pub at: String,
    /// `success`, `exit`, `error`, `warning` or `webhook`.
    pub kind: String,
    /// Who reported it: `callback` (the widget), `app` (the events API) or `belvo` (webhook).
    pub source: String,
    /// `applied`, `ignored` (after the first terminal event), or `mismatch` (webhook refused).
    pub effect: String,
    pub code: Option<String>,
    pub explanation: Option<Explanation>,
    /// Everything else Belvo sent, as text (the page escapes it).
    pub raw: Vec<(String, String)>,
}

/// Keys that are the row's own columns rather than Belvo's values.
const OWN_KEYS: &[&str] = &["kind", "at", "effect", "source"];

impl TimelineRow {
    pub fn new(entry: &serde_json::Value, lang: Lang) -> Self {
        let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let kind = text("kind").unwrap_or_else(|| "event".into());
        let code = code_of(entry);
        Self {
            at: entry
                .get("at")
                .and_then(|v| v.as_i64())
                .map(human_time)
                .unwrap_or_default(),
            source: text("source").unwrap_or_else(|| {
                if kind == "webhook" {
                    "belvo"
                } else {
                    "callback"
                }
                .into()
            }),
            kind,
            effect: text("effect").unwrap_or_default(),
            explanation: code.as_deref().map(|c| explain(c, lang)),
            code,
            raw: entry
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, v)| !OWN_KEYS.contains(&k.as_str()) && !v.is_null())
                        .map(|(k, v)| (k.clone(), value_text(v)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The Belvo code an entry carries: an exit's, an error's, a warning's, or a failed webhook's.
fn code_of(entry: &serde_json::Value) -> Option<String> {
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    text(entry.get("last_encountered_error_code"))
        .or_else(|| text(entry.get("error")))
        .or_else(|| text(entry.get("warning")))
        .or_else(|| text(entry.pointer("/data/error_code")))
        .or_else(|| text(entry.get("webhook_code")).filter(|c| c.contains("error")))
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Callbacks and webhooks together, oldest first (entries without a time keep their place).
pub fn merge(
    session: &[serde_json::Value],
    link: &[serde_json::Value],
    lang: Lang,
) -> Vec<TimelineRow> {
    let mut all: Vec<&serde_json::Value> = session.iter().chain(link).collect();
    all.sort_by_key(|e| e.get("at").and_then(|v| v.as_i64()).unwrap_or(0));
    all.into_iter().map(|e| TimelineRow::new(e, lang)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_explain_codes_and_keep_raw_values() {
        let exit = json!({"kind": "exit", "at": 2, "source": "callback", "effect": "applied",
            "last_encountered_error_code": "login_error",
            "last_encountered_error_message": "<script>alert(1)</script>"});
        let hook = json!({"kind": "webhook", "at": 1, "webhook_id": "w1", "effect": "applied",
            "data": {"error_code": "institution_down"}});
        let rows = merge(&[exit], &[hook], Lang::En);
        assert_eq!(rows[0].kind, "webhook");
        assert_eq!(rows[0].source, "belvo");
        assert_eq!(rows[0].code.as_deref(), Some("institution_down"));
        assert_eq!(rows[1].explanation.as_ref().unwrap().code, "login_error");
        assert!(rows[1].raw.contains(&(
            "last_encountered_error_message".into(),
            "<script>alert(1)</script>".into()
        )));
        assert!(rows[0]
            .raw
            .iter()
            .any(|(k, v)| k == "data" && v.contains("institution_down")));
    }
}
