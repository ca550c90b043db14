//! Prometheus metrics: one recorder per process and the helpers every layer calls where
//! something is worth counting. A leaf: it imports nothing from the crate, so the domain and the
//! adapters may count too. The request middleware and `GET /metrics` are in `routes::metrics`.
//!
//! Label values are always from a closed set (route templates, enum names), never from a
//! request, so a caller cannot make the number of series grow.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Counter, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: from a cache-speed answer up to a full `?wait=30` long-poll.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first use and returns its handle. Every app built in
/// the process (tests build many) shares it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty");
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                tracing::warn!(error = %e, "another metrics recorder is installed");
                PrometheusBuilder::new().build_recorder().handle()
            }
        };
        describe();
        zero_series();
        spawn_upkeep(handle.clone());
        handle
    })
}

/// Without an HTTP listener of its own the exporter leaves upkeep to us: histogram samples
/// would pile up between scrapes otherwise.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread did not start");
    }
}

fn describe() {
    describe_counter!(
        "bff_funnel_steps_total",
        "Funnel steps of widget sessions by product, platform and step (created, opened, success, exit_first_screen, exit_institution, error, link_verified, resources_ready)."
    );
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template."
    );
    describe_counter!(
        "bff_api_errors_total",
        "JSON error answers by route template and error code (the codes of docs/api.md)."
    );
    describe_counter!(
        "bff_webhooks_total",
        "Belvo webhooks received, by resource type (other for unknown ones) and outcome: \
         recorded, duplicate, external_id_mismatch."
    );
    describe_counter!(
        "bff_callbacks_total",
        "Widget events (deeplink callbacks, source=callback, or the app's events endpoint, \
         source=app) by kind and outcome: applied, ignored (session already final), replay, \
         expired, unknown_session."
    );
    describe_histogram!(
        "bff_belvo_request_duration_seconds",
        Unit::Seconds,
        "Time Belvo's API took to answer, by endpoint and outcome."
    );
    describe_counter!(
        "bff_belvo_errors_total",
        "Belvo API calls that failed, by endpoint and error: timeout, unreachable, \
         unauthorized, rejected, bad_response."
    );
    describe_counter!(
        "bff_redis_errors_total",
        "Redis commands that failed (error=command) or timed out (error=timeout)."
    );
    metrics::describe_gauge!(
        "bff_long_polls_waiting",
        "Long-polls (?wait=) waiting for a change right now."
    );
    describe_counter!(
        "bff_long_polls_skipped_total",
        "Long-polls answered at once, without waiting, because too many requests waited \
         already: in the process (cap=process, limits.max_waiting) or of one user (cap=user)."
    );
    describe_counter!(
        "bff_link_claims_refused_total",
        "Successes that named a link another user owns: the session failed with \
         link_owned_elsewhere and the link kept its owner."
    );
    metrics::describe_gauge!(
        "bff_events_oldest_undelivered_seconds",
        Unit::Seconds,
        "Age of the oldest outbound event an endpoint (endpoint = its consumer group, \
         ep-<hash of its URL>) has not been given yet; 0 when it has them all."
    );
    describe_counter!(
        "bff_events_total",
        "Outbound event attempts (SPEC 13) by outcome: delivered (a 2xx), retried (failed, \
         tried again later), dead (not delivered within notify.max_age), skipped (the \
         endpoint does not subscribe to the type)."
    );
    describe_counter!(
        "bff_staff_password_checks_total",
        "Console passwords checked against their argon2id hash (attempts refused by the \
         sign-in limits or while every check slot is busy are not checked, so not counted)."
    );
    metrics::describe_gauge!(
        "bff_link_checks_overdue",
        Unit::Seconds,
        "How far behind its due time the oldest due background link check (or unfinished \
         verification) is, as this replica last claimed; 0 when none is late."
    );
    describe_counter!(
        "bff_link_checks_total",
        "Reads of Belvo's record of a link (outcome=ok, gone, failed), by the background \
         scheduler (source=schedule) or POST /v1/links/{id}/check (source=api)."
    );
    describe_counter!(
        "bff_link_health_changes_total",
        "Changes of a link's health, by the health it changed to."
    );
    describe_counter!(
        "bff_consent_webhooks_total",
        "CONSENT webhooks recorded, by code (code=unknown: one this server does not know; kept \
         in the timeline, changes nothing)."
    );
    describe_counter!(
        "bff_unexplained_error_codes_total",
        "Explanations served with the generic text because Belvo's code is not in the table \
         (counted per lookup; the code itself is in the warning log)."
    );
}

/// The series the alert rules and the dashboard (`deploy/prometheus/`, `deploy/grafana/`) read,
/// shown at 0 from the start: a series that appears only with its first failure makes `rate()`
/// blind to that failure, and lets a renamed metric go unnoticed by the rules.
fn zero_series() {
    for error in ["command", "timeout"] {
        counter!("bff_redis_errors_total", "error" => error).absolute(0);
    }
    for error in [
        "timeout",
        "unreachable",
        "unauthorized",
        "rejected",
        "bad_response",
    ] {
        counter!("bff_belvo_errors_total", "endpoint" => "token", "error" => error).absolute(0);
    }
    for outcome in ["delivered", "retried", "dead", "skipped"] {
        counter!("bff_events_total", "outcome" => outcome).absolute(0);
    }
    for kind in ["success", "exit", "error", "warning"] {
        for source in ["callback", "app"] {
            counter!("bff_callbacks_total", "kind" => kind, "source" => source, "outcome" => "applied")
                .absolute(0);
        }
    }
    // Registered without a sample: shown with a count of 0 until Belvo's first answer.
    let _registered =
        histogram!("bff_belvo_request_duration_seconds", "endpoint" => "token", "outcome" => "ok");
    metrics::gauge!("bff_link_checks_overdue").set(0.0);
    metrics::gauge!("bff_long_polls_waiting").increment(0.0);
}

/// A request's method and status (the route template keys the outer map, looked up by `&str`).
type RequestLabels = (&'static str, u16);
/// The series of one route template, by method and status.
type RouteSeries = HashMap<RequestLabels, (Counter, Histogram)>;
/// A widget event's kind, source and outcome.
type CallbackLabels = (&'static str, &'static str, &'static str);

thread_local! {
    /// The series every request touches, by their labels, looked up once per thread: finding a
    /// series in the recorder (its key built, hashed and compared, its labels cloned) cost about
    /// 4% of an exit callback's CPU. The label sets are closed, so these stay small. A handle
    /// is kept for good, so the recorder must be installed ([`handle`]) before a thread counts
    /// (`startup` does it before serving): one taken earlier would count nowhere.
    static REQUEST_SERIES: RefCell<HashMap<String, RouteSeries>> =
        RefCell::new(HashMap::new());
    static CALLBACK_SERIES: RefCell<HashMap<CallbackLabels, Counter>> =
        RefCell::new(HashMap::new());
}

/// Counts and times one HTTP request by its method, route template and status.
pub fn request_finished(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    REQUEST_SERIES.with_borrow_mut(|series| {
        // By `&str` first: the route is copied once per thread, not once per request.
        if !series.contains_key(route) {
            series.insert(route.to_owned(), HashMap::new());
        }
        let of_route = series.get_mut(route).expect("inserted above");
        let (requests, duration) = of_route.entry((method, status)).or_insert_with(|| {
            let status = status.to_string();
            (
                counter!("http_requests_total", "method" => method, "route" => route.to_owned(), "status" => status),
                histogram!("http_request_duration_seconds", "method" => method, "route" => route.to_owned()),
            )
        });
        requests.increment(1);
        duration.record(elapsed);
    });
}

/// Counts one widget event by kind, where it came from (`callback` or `app`) and what it did
/// (`applied`, `ignored`, `replay`, `expired`, `unknown_session`).
pub fn callback_recorded(kind: &'static str, source: &str, outcome: &'static str) {
    let source = if source == "app" { "app" } else { "callback" };
    CALLBACK_SERIES.with_borrow_mut(|series| {
        series
            .entry((kind, source, outcome))
            .or_insert_with(|| {
                counter!("bff_callbacks_total", "kind" => kind, "source" => source, "outcome" => outcome)
            })
            .increment(1);
    });
}

/// Counts one funnel step of a session (SPEC §14). `product` is a configured product's name (the
/// session was created for it), `platform` and `step` come from closed sets.
pub fn funnel_step(product: &str, platform: &str, step: &'static str) {
    counter!(
        "bff_funnel_steps_total",
        "product" => product.to_owned(),
        "platform" => platform.to_owned(),
        "step" => step
    )
    .increment(1);
}

/// Records one Belvo API call (`endpoint` names it, e.g. `token`): its time, and its failure
/// (`error`: `timeout`, `unreachable`, ...) if it failed.
pub fn belvo_call(endpoint: &'static str, outcome: Result<(), &'static str>, elapsed: Duration) {
    let label = outcome.err().unwrap_or("ok");
    histogram!("bff_belvo_request_duration_seconds", "endpoint" => endpoint, "outcome" => label)
        .record(elapsed);
    if let Err(error) = outcome {
        counter!("bff_belvo_errors_total", "endpoint" => endpoint, "error" => error).increment(1);
    }
}

/// Counts a failed Redis command: `command` (an error answer or a broken connection) or `timeout`.
pub fn redis_error(error: &'static str) {
    counter!("bff_redis_errors_total", "error" => error).increment(1);
}

/// Follows how many long-polls wait right now.
pub fn long_poll_waiting(change: f64) {
    metrics::gauge!("bff_long_polls_waiting").increment(change);
}

/// Counts a long-poll answered at once because a cap was reached (`process` or `user`).
pub fn long_poll_skipped(cap: &'static str) {
    counter!("bff_long_polls_skipped_total", "cap" => cap).increment(1);
}

/// Counts a success that named a link another user owns (the session failed instead).
pub fn link_claim_refused() {
    counter!("bff_link_claims_refused_total").increment(1);
}

/// Sets how far the oldest due link check lags, in seconds.
pub fn link_checks_overdue(ms: i64) {
    metrics::gauge!("bff_link_checks_overdue").set(ms.max(0) as f64 / 1000.0);
}

/// Counts one read of Belvo's record of a link.
pub fn link_checked(source: &'static str, outcome: &'static str) {
    counter!("bff_link_checks_total", "source" => source, "outcome" => outcome).increment(1);
}

/// Counts one change of a link's health, by the health it changed to (`needs_reconnect`...).
pub fn link_health_changed(to: &'static str) {
    counter!("bff_link_health_changes_total", "to" => to).increment(1);
}

/// Counts one CONSENT webhook recorded, by its code: the known ones by name (both spellings of
/// the expired one), any other as `unknown` (SPEC §12), so the label set stays closed.
pub fn consent_webhook(code: &'static str) {
    counter!("bff_consent_webhooks_total", "code" => code).increment(1);
}

/// Counts one console password checked against its hash.
pub fn password_checked() {
    counter!("bff_staff_password_checks_total").increment(1);
}

/// Counts an explanation that fell back to the generic text.
pub fn unexplained_error_code() {
    counter!("bff_unexplained_error_codes_total").increment(1);
}

/// Counts one Belvo webhook by resource type (`kind`: a known resource or `other`, so labels
/// stay bounded) and what recording it did.
pub fn webhook_recorded(kind: &'static str, outcome: &'static str) {
    counter!("bff_webhooks_total", "type" => kind, "outcome" => outcome).increment(1);
}

/// The age of the oldest event an endpoint (its consumer group) has not been given yet; 0 when
/// it has them all.
pub fn events_oldest_undelivered(group: &str, age: Duration) {
    metrics::gauge!("bff_events_oldest_undelivered_seconds", "endpoint" => group.to_owned())
        .set(age.as_secs_f64());
}

/// Counts one outbound event attempt's result: `delivered`, `retried` (to be tried again),
/// `dead` (past `notify.max_age`) or `skipped` (the endpoint does not want this type).
pub fn event_delivery(outcome: &'static str) {
    counter!("bff_events_total", "outcome" => outcome).increment(1);
}
