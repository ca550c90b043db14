//! The error registry (`belvo_bff::error_code::ErrorCode`), `docs/api.md` and `/openapi.json`
//! agree: every code is in the docs with its status, and every status a documented route
//! answers in these tests is documented for that route. The second check runs when each
//! `TestApp` is dropped (`helpers::answers`), over what the process-wide metrics
//! recorder has counted so far, so every API test takes part.

use std::collections::{BTreeMap, BTreeSet};

use belvo_bff::error_code::ErrorCode;

use crate::helpers::answers::{labels, undocumented};
use crate::helpers::{spawn_app_with, StoreKind};

/// The rows of docs/api.md's error table: code → status.
fn documented_codes() -> BTreeMap<String, u16> {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let table = docs
        .split_once("## Error codes")
        .expect("docs/api.md has an \"## Error codes\" section")
        .1;
    table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect()
}

#[test]
fn docs_api_md_lists_every_code_with_its_status() {
    let documented = documented_codes();
    for code in ErrorCode::all() {
        assert_eq!(
            documented.get(code.as_str()),
            Some(&code.status().as_u16()),
            "docs/api.md's error table must list `{code}` with status {}",
            code.status().as_u16()
        );
    }
    let known: BTreeSet<&str> = ErrorCode::all().iter().map(|c| c.as_str()).collect();
    for code in documented.keys() {
        assert!(
            known.contains(code.as_str()),
            "docs/api.md lists `{code}`, which the registry does not declare"
        );
    }
}

#[test]
fn docs_api_md_tables_are_not_cut_by_blank_lines() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let lines: Vec<&str> = docs.lines().collect();
    for (i, window) in lines.windows(3).enumerate() {
        assert!(
            !(window[0].starts_with('|')
                && window[1].trim().is_empty()
                && window[2].starts_with('|')),
            "docs/api.md line {}: a blank line cuts a table in two",
            i + 2
        );
    }
}

#[test]
fn the_check_reports_what_the_document_lacks() {
    let rendered = "\
http_requests_total{method=\"GET\",route=\"/v1/links\",status=\"200\"} 3
http_requests_total{method=\"GET\",route=\"/v1/links/{link_id}\",status=\"418\"} 1
http_requests_total{method=\"GET\",route=\"/support\",status=\"418\"} 1
bff_api_errors_total{route=\"/v1/links\",code=\"not_found\"} 1
bff_api_errors_total{route=\"/v1/links\",code=\"teapot\"} 1
";
    let found: Vec<String> = undocumented(rendered).into_iter().collect();
    assert_eq!(
        found,
        [
            "/v1/links answered undeclared `teapot`",
            "GET /v1/links/{link_id} answered 418",
        ]
    );
}

#[tokio::test]
async fn answers_are_counted_by_route_status_and_code() {
    let app = spawn_app_with(StoreKind::Memory, |_| {}).await;
    let response = app.client.get(app.url("/v1/links")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let rendered = belvo_bff::metrics::handle().render();
    let seen = |metric: &str, want: &[(&str, &str)]| {
        rendered.lines().any(|line| {
            labels(line, metric).is_some_and(|l| want.iter().all(|(k, v)| l.get(k) == Some(v)))
        })
    };
    assert!(seen(
        "http_requests_total",
        &[("method", "GET"), ("route", "/v1/links"), ("status", "401")]
    ));
    assert!(seen(
        "bff_api_errors_total",
        &[("route", "/v1/links"), ("code", "unauthorized")]
    ));
}
