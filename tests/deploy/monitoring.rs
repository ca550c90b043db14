//! `deploy/prometheus/` and `deploy/grafana/`: the alert rules pass `promtool check rules`, a live
//! server's `/metrics` passes `promtool check metrics`, and every metric the rules and the
//! dashboard query is one the live server serves (a renamed metric fails here, not at 3 a.m.).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::files::{deploy_dir, load_settings, read, yaml};
use belvo_bff::startup::Application;

const RULES: &str = "prometheus/alerts.yml";
const DASHBOARD: &str = "grafana/belvo-bff.json";

fn promtool() -> Command {
    let probe = Command::new("promtool").arg("--version").output();
    assert!(
        probe.is_ok_and(|out| out.status.success()),
        "promtool is missing: install Debian's prometheus package (scripts/test.sh does)"
    );
    Command::new("promtool")
}

#[test]
fn alert_rules_pass_promtool() {
    let path = deploy_dir().join(RULES);
    let out = promtool()
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool check rules: {said}");
}

/// Every alert the operations guide promises is in the rules file.
#[test]
fn the_rules_cover_success_rate_webhooks_belvo_redis_and_notify() {
    let alerts: BTreeSet<String> = rule_exprs().into_iter().map(|(name, _)| name).collect();
    for wanted in [
        "BffConnectionSuccessRateDrop",
        "BffBelvoWebhookBacklog",
        "BffBelvoErrors",
        "BffRedisErrors",
        "BffNotifyBacklog",
    ] {
        assert!(alerts.contains(wanted), "{wanted} missing from {alerts:?}");
    }
}

#[tokio::test]
async fn live_metrics_pass_promtool_and_hold_every_metric_the_rules_and_dashboard_use() {
    let exposition = live_metrics().await;

    let mut check = promtool()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let served = served_names(&exposition);
    let mut queries = rule_exprs();
    queries.extend(dashboard_exprs());
    assert!(queries.len() >= 10, "rules and dashboard: {queries:?}");
    for (name, expr) in &queries {
        let used = metric_names(expr);
        assert!(!used.is_empty(), "{name}: no metric in {expr}");
        for metric in used {
            assert!(
                served.contains(&metric),
                "{name} queries {metric}, which the live /metrics does not serve"
            );
        }
    }
}

/// A server with an outbound-event endpoint (so the notify gauges exist), after a request and a
/// refused one (so the request histogram and the error counter have samples), scraped once its
/// notify gauge has appeared.
async fn live_metrics() -> String {
    let env = [(
        "MONITORING_WHSEC".to_owned(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
    )]
    .into();
    let file = "[[notify.endpoints]]\nurl = \"http://127.0.0.1:9/events\"\n\
                events = [\"*\"]\nsecret_env = \"MONITORING_WHSEC\"\n";
    let mut settings = load_settings(env, Some(file)).expect("settings with an endpoint load");
    settings.server.port = 0;
    settings.server.workers = 1;
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let refused = client.get(format!("{base}/v1/links")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("bff_events_oldest_undelivered_seconds{") {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notify gauge never appeared:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The series names a scrape serves (histograms with their `_bucket`, `_sum`, `_count`).
fn served_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap_or_default().to_owned())
        .collect()
}

/// The metric names in a PromQL expression: this server's metrics all start `bff_` or `http_`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("bff_") || word.starts_with("http_"))
        .map(str::to_owned)
        .collect()
}

/// (alert name, expression) of every rule.
fn rule_exprs() -> Vec<(String, String)> {
    let docs = yaml(RULES);
    let mut found = Vec::new();
    for group in docs[0]["groups"].as_vec().expect("groups") {
        for rule in group["rules"].as_vec().expect("rules") {
            let name = rule["alert"].as_str().expect("every rule is an alert");
            let expr = rule["expr"].as_str().expect("expr");
            found.push((name.to_owned(), expr.to_owned()));
        }
    }
    found
}

/// (panel title, expression) of every dashboard query.
fn dashboard_exprs() -> Vec<(String, String)> {
    let dashboard: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).expect("JSON");
    let mut found = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("title");
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            found.push((title.to_owned(), expr.to_owned()));
        }
    }
    found
}
