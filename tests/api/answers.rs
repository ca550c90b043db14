//! Checks what the server answered against `/openapi.json` and the error registry, from the
//! process-wide metrics recorder: every `TestApp` runs it when dropped, so every API test
//! takes part (see `error_registry.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use belvo_bff::error_code::ErrorCode;
use serde_json::Value;

/// The labels of one metrics line, e.g. `http_requests_total{method="GET",...} 3`.
pub fn labels<'a>(line: &'a str, metric: &str) -> Option<BTreeMap<&'a str, &'a str>> {
    let rest = line.strip_prefix(metric)?.strip_prefix('{')?;
    let (labels, _) = rest.rsplit_once('}')?;
    Some(
        labels
            .split("\",")
            .filter_map(|pair| {
                let (key, value) = pair.split_once("=\"")?;
                Some((key, value.trim_end_matches('"')))
            })
            .collect(),
    )
}

fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(belvo_bff::routes::openapi_document()).unwrap())
}

/// What `rendered` (the metrics text) counts that the document and the registry do not know:
/// a (method, route, status) answered by a documented route but not documented for it, or an
/// error code the registry does not declare.
pub fn undocumented(rendered: &str) -> BTreeSet<String> {
    let paths = &openapi()["paths"];
    let codes: BTreeSet<&str> = ErrorCode::all().iter().map(|c| c.as_str()).collect();
    let mut found = BTreeSet::new();
    for line in rendered.lines() {
        if let Some(l) = labels(line, "http_requests_total") {
            let operation = &paths[l["route"]][l["method"].to_lowercase()];
            if !operation.is_null() && operation["responses"][l["status"]].is_null() {
                found.insert(format!(
                    "{} {} answered {}",
                    l["method"], l["route"], l["status"]
                ));
            }
        }
        if let Some(l) = labels(line, "bff_api_errors_total") {
            if !codes.contains(l["code"]) {
                found.insert(format!(
                    "{} answered undeclared `{}`",
                    l["route"], l["code"]
                ));
            }
        }
    }
    found
}

/// Every status answered so far (by any test of this process) by a route of the OpenAPI
/// document is documented there, and every error code answered is in the registry.
pub fn assert_answers_are_documented() {
    let found = undocumented(&belvo_bff::metrics::handle().render());
    assert!(
        found.is_empty(),
        "answered in the tests but not documented in /openapi.json or the registry: {found:#?}"
    );
}
