//! Logging: JSON lines by default, `pretty` for a person at a terminal.
//!
//! Every line logged while serving a request carries that request's id at the top level
//! (`request_id`, the same as in `X-Request-Id` and error bodies), however deep the span it was
//! logged in. The request span records the path without its query string: query strings carry
//! widget access tokens and user input.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::HttpMessage;
use tracing::{Event, Span, Subscriber};
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};
use crate::error::ApiError;

/// Installs the global subscriber once; later calls (tests) are no-ops. Lines are written by a
/// background thread, so a request never waits on stderr; keep the returned guard alive for the
/// life of the process (dropping it flushes what is left).
#[must_use = "dropping the guard stops the log writer"]
pub fn init(log: &LogSettings) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Not lossy: under a flood the buffer (128k lines) fills and writers wait, rather than
    // lines silently going missing.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::stderr());
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    let _ = match log.format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(WithRequestId(
                fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true),
            ))
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    guard
}

/// The JSON line of the wrapped format, with the request id of the enclosing request span (if
/// any) lifted to the front as `request_id`.
struct WithRequestId(Format<Json>);

impl<S, N> FormatEvent<S, N> for WithRequestId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match (request_id_in(&line), line.strip_prefix('{')) {
            (Some(id), Some(rest)) => {
                let id = serde_json::Value::String(id);
                write!(writer, "{{\"request_id\":{id},{rest}")
            }
            _ => writer.write_str(&line),
        }
    }
}

/// The `request_id` of the outermost span that has one.
fn request_id_in(line: &str) -> Option<String> {
    let parsed: serde_json::Value = serde_json::from_str(line).ok()?;
    parsed["spans"]
        .as_array()?
        .iter()
        .find_map(|span| span["request_id"].as_str().map(str::to_owned))
}

/// When the request started, kept in its extensions for the closing log line.
struct Started(Instant);

/// The route template a request matched (`unmatched` when none), found once by the metrics
/// middleware (`routes::metrics::record_request`, outside this span's) and kept in the request's
/// extensions for the span. An API route's is found by comparing path segments
/// (`routes::templates`); any other, before routing, by matching the path against every
/// route's pattern, which costs about as much as a status read's JSON.
#[derive(Clone)]
pub struct RouteTemplate(pub std::borrow::Cow<'static, str>);

/// The span every request runs in, and one log line when it ends.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        // Found once, by the metrics middleware outside this one (before routing, finding it
        // means matching the path against every route's pattern). The fields are worked out
        // only when the span is kept (`log.level` info or finer), as the macro evaluates them.
        let route = || {
            request
                .extensions()
                .get::<RouteTemplate>()
                .map(|r| r.0.to_string())
                .or_else(|| request.match_pattern())
                .unwrap_or_else(|| "unmatched".into())
        };
        let request_id = || {
            request
                .extensions()
                .get::<RequestId>()
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        tracing::info_span!(
            "HTTP request",
            request_id = %request_id(),
            http.method = %request.method(),
            http.route = %route(),
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, error, elapsed) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error(),
                response
                    .request()
                    .extensions()
                    .get::<Started>()
                    .map(|s| s.0.elapsed()),
            ),
            Err(error) => (error.as_response_error().status_code(), Some(error), None),
        };
        // Only our error code: messages of 4xx errors can quote the caller's input.
        let code = error
            .map(|e| {
                e.as_error::<ApiError>()
                    .map_or("other", |api| api.code.as_str())
            })
            .unwrap_or("");
        let elapsed_ms = elapsed.map(|e| e.as_micros() as f64 / 1000.0);
        span.record("http.status_code", status.as_u16());
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
        if !code.is_empty() {
            span.record("exception.message", code);
        }
        // Probes and scrapes every few seconds would drown the rest.
        let quiet = is_quiet(outcome);
        span.in_scope(|| {
            let status = status.as_u16();
            if status >= 500 {
                tracing::error!(status, error = code, elapsed_ms, "request failed");
            } else if quiet {
                tracing::debug!(status, elapsed_ms, "request finished");
            } else if status >= 400 {
                tracing::info!(status, error = code, elapsed_ms, "request refused");
            } else {
                tracing::info!(status, elapsed_ms, "request finished");
            }
        });
    }
}

/// Whether the request was a probe or a scrape, by the route template it matched (as the
/// metrics middleware found it).
fn is_quiet<B>(outcome: &Result<ServiceResponse<B>, actix_web::Error>) -> bool {
    let quiet = |route: &str| matches!(route, "/healthz" | "/readyz" | "/metrics");
    let Some(request) = outcome.as_ref().ok().map(ServiceResponse::request) else {
        return false;
    };
    if let Some(found) = request.extensions().get::<RouteTemplate>() {
        return quiet(&found.0);
    }
    request.match_pattern().is_some_and(|route| quiet(&route))
}
