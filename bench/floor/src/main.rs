//! The floor for `scripts/bench.sh`: each BFF hot path reduced to the one Redis round trip it
//! must make, with no validation, auth, logging or middleware. Whatever the BFF costs above this
//! is the price of its checks; the benchmark reports each path as a ratio to this program.
//!
//! - `GET /callbacks/{id}/{kind}`: the BFF's own callback script (`src/store/lua/apply_event.lua`,
//!   compiled in, so both send Redis the same work), then a 302 to the deeplink.
//! - `GET /v1/widget-sessions/{id}`: one HGETALL, returned as JSON.
//! - `POST /webhooks/belvo`: the BFF's own webhook script (`src/store/lua/record_webhook.lua`) with
//!   the fields read from the JSON body, answering 200.
//! - `GET /w/{id}`: the BFF's own opening script (`src/store/lua/open_widget.lua`), then a 302 to
//!   the widget with the stored token (the BFF's path when the token has time left).
//! - `GET /bare/callbacks/{id}/success`: the **bare** floor, the least any server must do to
//!   record a callback: one `MULTI` (`HSET` of the link and institution on the session's hash,
//!   `EXPIRE`) and a 302, with none of the BFF's rules (first terminal wins, replays counted
//!   once, timeline, link owner, pub/sub). Next to the route above it splits the BFF's cost
//!   into what Redis spends on its scripts and what the Rust side spends.
//!
//! - `POST /events`, `GET /events/stats`, `DELETE /events`: a fast receiver for the BFF's
//!   outbound events (a floor process of its own is the endpoint of `[[notify.endpoints]]`). Each
//!   event answers 204 and records its delay from the state change (the body's `timestamp`,
//!   RFC 3339) to its arrival; the stats give the count, events/s from the first arrival to the
//!   last, and the delays' p50/p99/max. No signature check: the receiver measures delivery, the
//!   tests check signatures.
//!
//! Environment: `PORT`, `REDIS_URL`, `KEY_PREFIX` (the BFF's `store.key_prefix`, so the floor
//! works on sessions the BFF created).

/// The BFF's own codec of the widget token as Redis keeps it (compact, or its text).
#[path = "../../../src/store/codec/token.rs"]
#[allow(dead_code)] // the floor only reads tokens
mod token;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

/// Same limits the BFF passes to the scripts (`MAX_EVENTS`, `MAX_WARNINGS`, `sessions.retention`,
/// `links.retention`).
const MAX_EVENTS: u32 = 200;
/// The webhook ids remembered per link and the slack before a trim (as `MAX_WEBHOOK_IDS` and
/// `WEBHOOK_IDS_SLACK` in `src/domain/webhook.rs`).
const MAX_WEBHOOK_IDS: usize = 1000;
const WEBHOOK_IDS_SLACK: usize = 100;
/// The bench's product and its one fetch resource (`config/default.toml`), as the BFF passes
/// them to `record_webhook.lua` until a link is settled.
const FETCH_PAIR: [&str; 2] = ["mx_employment", "EMPLOYMENT_RECORDS"];
const MAX_WARNINGS: u32 = 50;
const SESSION_RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;
const LINK_RETENTION_MS: u64 = 400 * 24 * 3600 * 1000;
/// What `/w/` reads with the opening: the same fields as the BFF (`codec::widget_fields`: the
/// 13 session fields opening the widget needs; the script then reads the token from its own
/// key), so both send Redis the same work.
const WIDGET_FIELDS: &[&str] = &[
    "id",
    "owner",
    "product",
    "institutions",
    "access_mode",
    "token_expires_at",
    "deadline",
    "status",
    "link_id",
    "locale",
    "mode",
    "opened_at",
    "opens",
];

struct Floor {
    conn: ConnectionManager,
    prefix: String,
    apply_event: Script,
    record_webhook: Script,
    open_widget: Script,
    /// The links seen settled, as the BFF's `settled_links`: their webhooks go without the
    /// readiness arguments.
    settled: Mutex<std::collections::HashSet<String>>,
}

impl Floor {
    /// The BFF's key of a session or link (`src/store/keys.rs`): its shard's tag (FNV-1a of
    /// the id's 16 bytes modulo 16, `src/domain/shard.rs`), the kind, the id.
    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{{sh:{:02}}}:{kind}:{id}", self.prefix, shard(id))
    }

    /// The day's funnel counters of the session's shard (`src/store/keys.rs`), and when they
    /// expire (`Day::expire_at_millis`: the day's end plus 90 days), as the BFF passes them.
    fn funnel(&self, id: &str, now: u64) -> (String, u64) {
        key_and_expiry(&self.prefix, id, now)
    }
}

fn key_and_expiry(prefix: &str, id: &str, now: u64) -> (String, u64) {
    let days = now / MS_PER_DAY;
    let (y, m, d) = civil_from_days(days as i64);
    let key = format!(
        "{prefix}:{{sh:{:02}}}:funnel:{y:04}-{m:02}-{d:02}",
        shard(id)
    );
    (key, (days + 1 + FUNNEL_RETENTION_DAYS) * MS_PER_DAY)
}

const MS_PER_DAY: u64 = 24 * 3600 * 1000;
const FUNNEL_RETENTION_DAYS: u64 = 90;

/// The shard of a session or link id (`src/domain/shard.rs`): FNV-1a of its 16 bytes modulo 16.
fn shard(id: &str) -> u32 {
    let hex: Vec<u8> = id.bytes().filter(|b| *b != b'-').collect();
    let mut hash: u32 = 0x811c_9dc5;
    for pair in hex.chunks(2) {
        let byte = std::str::from_utf8(pair)
            .ok()
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .unwrap_or(0);
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 16
}

/// The civil date of a day counted from 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

async fn callback(
    floor: web::Data<Floor>,
    path: web::Path<(String, String)>,
    query: web::Query<HashMap<String, String>>,
    req: HttpRequest,
) -> HttpResponse {
    let (id, kind) = path.into_inner();
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let now = now_millis();
    let mut invocation = floor.apply_event.prepare_invoke();
    invocation
        .key(floor.key("session", &id))
        .key(floor.key("timeline", &id));
    // The same fields the BFF writes for these two kinds, copied from the query unchecked.
    let (outcome, fields, entry) = if kind == "success" {
        invocation.key(floor.key("link", param("link")));
        let fields = vec![
            ("link_id", param("link")),
            ("institution", param("institution")),
        ];
        let entry = format!(
            r#"{{"kind":"success","link":"{}","institution":"{}","at":{now},"source":"callback"}}"#,
            param("link"),
            param("institution")
        );
        ("succeeded", fields, entry)
    } else {
        let fields = vec![
            ("error_code", param("last_encountered_error_code")),
            ("exit_step", param("meta_data_step")),
        ];
        let entry = format!(
            r#"{{"kind":"exit","last_encountered_error_code":"{}","meta_data_step":"{}","at":{now},"source":"callback"}}"#,
            param("last_encountered_error_code"),
            param("meta_data_step")
        );
        ("exited", fields, entry)
    };
    // The raw query string stands in for the BFF's event fingerprint: equal events, equal key.
    invocation
        .arg(req.query_string())
        .arg(now)
        .arg(outcome)
        .arg("")
        .arg(entry)
        .arg(format!("{}:floor-events", floor.prefix))
        .arg(&id)
        .arg(MAX_EVENTS)
        .arg(MAX_WARNINGS)
        .arg("1") // publish: a single server, the link hash is KEYS[3]
        .arg(SESSION_RETENTION_MS)
        .arg(LINK_RETENTION_MS)
        .arg(fields.len());
    for (field, value) in fields {
        invocation.arg(field).arg(value);
    }
    let mut conn = floor.conn.clone();
    let reply: Vec<redis::Value> = match invocation.invoke_async(&mut conn).await {
        Ok(reply) => reply,
        Err(e) => return HttpResponse::ServiceUnavailable().body(e.to_string()),
    };
    let text = |i: usize| -> String {
        reply
            .get(i)
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .unwrap_or_default()
    };
    if text(0) == "missing" {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Found()
        .insert_header((
            "Location",
            format!("bffdemo://belvo/{kind}?session_id={id}&status={}", text(1)),
        ))
        .finish()
}

/// The bare floor: `MULTI`, `HSET` link and institution, `EXPIRE`, `EXEC`, then a 302.
async fn bare_success(
    floor: web::Data<Floor>,
    id: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let key = floor.key("session", &id);
    let mut conn = floor.conn.clone();
    let done: redis::RedisResult<()> = redis::pipe()
        .atomic()
        .hset_multiple(
            &key,
            &[
                ("link_id", param("link")),
                ("institution", param("institution")),
            ],
        )
        .ignore()
        .expire(&key, (SESSION_RETENTION_MS / 1000) as i64)
        .ignore()
        .query_async(&mut conn)
        .await;
    match done {
        Ok(()) => HttpResponse::Found()
            .insert_header((
                "Location",
                format!("bffdemo://belvo/success?session_id={id}&status=succeeded"),
            ))
            .finish(),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

/// The webhook's fields as the BFF passes them, taken from the body without any checks.
async fn webhook(floor: web::Data<Floor>, body: web::Json<serde_json::Value>) -> HttpResponse {
    let text = |name: &str| body[name].as_str().unwrap_or("").to_owned();
    let now = now_millis();
    let (resource, state) = if text("webhook_code") == "historical_update" {
        let total = body["data"]
            .as_object()
            .and_then(|data| data.values().find_map(|v| v.as_u64()));
        let state = serde_json::json!({"status": "ready", "total": total, "updated_at": now});
        (text("webhook_type"), state.to_string())
    } else {
        (String::new(), String::new())
    };
    let entry = format!(
        r#"{{"kind":"webhook","at":{now},"webhook_id":"{}","webhook_type":"{}","webhook_code":"{}","data":{}}}"#,
        text("webhook_id"),
        text("webhook_type"),
        text("webhook_code"),
        body["data"]
    );
    // As the BFF: the entry with its effect last, the keep window (30 s), the readiness
    // arguments until the link is settled.
    let entry = format!("{},\"effect\":\"applied\"}}", &entry[..entry.len() - 1]);
    let link = text("link_id");
    let mut settled = floor.settled.lock().unwrap().contains(&link);
    loop {
        let mut invocation = floor.record_webhook.prepare_invoke();
        invocation
            .key(floor.key("link", &link))
            .key(floor.key("link-timeline", &link))
            .key(floor.key("webhook-ids", &link));
        let (funnel, expiry) = key_and_expiry(&floor.prefix, &link, now);
        if !settled {
            invocation.key(funnel);
        }
        invocation
            .arg(text("webhook_id"))
            .arg(now)
            .arg(&resource)
            .arg(&state)
            .arg(text("external_id"))
            .arg(&entry)
            .arg(now / 30_000);
        if !settled {
            invocation
                .arg(&link)
                .arg(expiry)
                .arg(FETCH_PAIR[0])
                .arg(FETCH_PAIR[1]);
        }
        let mut conn = floor.conn.clone();
        // As the BFF reads it: one string, its parts on lines (result, session, consent,
        // funnel field counted, settled).
        return match invocation.invoke_async::<String>(&mut conn).await {
            Ok(reply) if reply == "unready" && settled => {
                floor.settled.lock().unwrap().remove(&link);
                settled = false;
                continue;
            }
            Ok(reply) => {
                let parts: Vec<&str> = reply.split('\n').collect();
                if parts.get(4) == Some(&"1") {
                    floor.settled.lock().unwrap().insert(link);
                }
                HttpResponse::Ok().json(serde_json::json!({"status": parts[0]}))
            }
            Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        };
    }
}

/// `/w/{id}`: counts the opening (and, the first time, the funnel's `opened` step, as the BFF)
/// and sends the browser to the widget with the stored token.
async fn widget(floor: web::Data<Floor>, id: web::Path<String>) -> HttpResponse {
    let now = now_millis();
    let (funnel, expiry) = floor.funnel(&id, now);
    let mut invocation = floor.open_widget.prepare_invoke();
    // The same keys and arguments as the BFF's.
    invocation
        .key(floor.key("session", &id))
        .key(funnel)
        .key(floor.key("token", &id))
        .arg(now)
        .arg(expiry);
    for field in WIDGET_FIELDS {
        invocation.arg(*field);
    }
    let mut conn = floor.conn.clone();
    // Bytes: the token is kept compact (`token.rs`), as the BFF reads it.
    let reply: Vec<Option<Vec<u8>>> = match invocation.invoke_async(&mut conn).await {
        Ok(reply) => reply,
        Err(e) => return HttpResponse::ServiceUnavailable().body(e.to_string()),
    };
    if reply.first().cloned().flatten().as_deref() != Some(b"open".as_slice()) {
        return HttpResponse::Gone().finish();
    }
    // The reply: the result, the funnel field counted, each field asked, then the token.
    let field = |name: &str| {
        let at = WIDGET_FIELDS
            .iter()
            .position(|f| *f == name)
            .unwrap_or(WIDGET_FIELDS.len());
        let value = reply.get(at + 2).cloned().flatten().unwrap_or_default();
        if name == "token" {
            return token::decode_widget_token(&value).unwrap_or_default();
        }
        String::from_utf8(value).unwrap_or_default()
    };
    HttpResponse::Found()
        .insert_header((
            "Location",
            format!(
                "http://127.0.0.1/emulator/widget/?access_token={}&locale={}&institutions={}&external_id={}",
                field("token"),
                field("locale"),
                field("institutions"),
                field("owner")
            ),
        ))
        .finish()
}

/// What the events receiver has seen since its start (or its last reset).
#[derive(Default)]
struct Received {
    /// Per event, µs from its state change to its arrival.
    delays_us: Vec<u32>,
    /// Arrivals of the first and the last event, µs since the epoch.
    first_us: u64,
    last_us: u64,
    /// Events per `type`.
    types: HashMap<String, u64>,
    /// Bodies without a readable `timestamp` (answered 400, so the BFF retries them).
    unreadable: u64,
}

/// `POST /events`: records the event's delay and answers 204 at once.
async fn receive_event(received: web::Data<Mutex<Received>>, body: web::Bytes) -> HttpResponse {
    let arrived = now_micros();
    let at = event_millis(&body);
    let kind = json_string(&body, b"\"type\":\"").unwrap_or("?");
    let mut seen = received.lock().unwrap_or_else(|e| e.into_inner());
    let Some(at) = at else {
        seen.unreadable += 1;
        return HttpResponse::BadRequest().finish();
    };
    let delay = arrived.saturating_sub(at * 1000).min(u64::from(u32::MAX)) as u32;
    if seen.delays_us.is_empty() {
        seen.first_us = arrived;
    }
    seen.last_us = arrived;
    seen.delays_us.push(delay);
    match seen.types.get_mut(kind) {
        Some(n) => *n += 1,
        None => {
            seen.types.insert(kind.to_owned(), 1);
        }
    }
    HttpResponse::NoContent().finish()
}

/// `GET /events/stats`: count, events/s over first to last arrival, delays in ms.
async fn event_stats(received: web::Data<Mutex<Received>>) -> HttpResponse {
    let (mut delays, first, last, unreadable, types) = {
        let seen = received.lock().unwrap_or_else(|e| e.into_inner());
        let types = seen.types.clone();
        (
            seen.delays_us.clone(),
            seen.first_us,
            seen.last_us,
            seen.unreadable,
            types,
        )
    };
    delays.sort_unstable();
    let count = delays.len();
    let pct = |p: f64| -> f64 {
        if count == 0 {
            return 0.0;
        }
        let at = ((count as f64 * p) as usize).min(count - 1);
        f64::from(delays[at]) / 1000.0
    };
    let span_s = last.saturating_sub(first) as f64 / 1e6;
    let per_s = if count > 1 && span_s > 0.0 {
        (count - 1) as f64 / span_s
    } else {
        0.0
    };
    HttpResponse::Ok().json(serde_json::json!({
        "count": count,
        "unreadable": unreadable,
        "types": types,
        "first_to_last_s": (span_s * 1000.0).round() / 1000.0,
        "events_per_s": per_s.round(),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }))
}

/// `DELETE /events`: forgets what was received (between cases).
async fn reset_events(received: web::Data<Mutex<Received>>) -> HttpResponse {
    *received.lock().unwrap_or_else(|e| e.into_inner()) = Received::default();
    HttpResponse::NoContent().finish()
}

/// The event's time (ms since the epoch) from its body's `"timestamp":"…"` (RFC 3339, UTC as
/// the BFF writes it: `2026-11-29T17:44:05.123Z`, any number of fraction digits or none).
fn event_millis(body: &[u8]) -> Option<u64> {
    rfc3339_millis(json_string(body, b"\"timestamp\":\"")?)
}

/// The string after `key` (`"name":"`) up to its closing quote (the BFF's values here have no
/// escapes).
fn json_string<'a>(body: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let start = body.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &body[start..];
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

fn rfc3339_millis(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    let millis = format!("{fraction:0<3}").get(..3)?.parse::<i64>().ok()?;
    // Days from 1970-01-01 to the civil date (H. Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis;
    u64::try_from(ms).ok()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn status(floor: web::Data<Floor>, id: web::Path<String>) -> HttpResponse {
    let mut conn = floor.conn.clone();
    let key = floor.key("session", &id);
    match conn.hgetall::<_, HashMap<String, String>>(key).await {
        Ok(fields) if fields.is_empty() => HttpResponse::NotFound().finish(),
        Ok(fields) => HttpResponse::Ok().json(fields),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let port: u16 = env("PORT", "8090").parse().expect("PORT is a port number");
    let client = redis::Client::open(env("REDIS_URL", "redis://127.0.0.1:6379"))
        .expect("REDIS_URL is a Redis URL");
    // No response timeout, as before redis-rs 1.0 (whose default is 500 ms): under load the
    // floor waits for Redis as long as it takes, like the BFF within its store timeout.
    let config = ConnectionManagerConfig::new().set_response_timeout(None);
    let conn = ConnectionManager::new_with_config(client, config)
        .await
        .expect("Redis is reachable");
    let floor = web::Data::new(Floor {
        conn,
        prefix: env("KEY_PREFIX", "bff"),
        apply_event: Script::new(include_str!("../../../src/store/lua/apply_event.lua")),
        // As `lua::record_webhook`: the per-process values in front, then the outbox prelude
        // inside a function (its functions made only when a webhook may make the link ready).
        record_webhook: Script::new(&format!(
            "local CHANNEL, TTL, MAX_EVENTS, MAX_IDS, SLACK = {:?}, '{LINK_RETENTION_MS}', \
             {MAX_EVENTS}, {MAX_WEBHOOK_IDS}, {WEBHOOK_IDS_SLACK}\n\
             local function resources_ready(...)\n{}return resources_ready(...)\nend\n{}",
            format!("{}:floor-events", env("KEY_PREFIX", "bff")),
            include_str!("../../../src/store/lua/outbox_add.lua"),
            include_str!("../../../src/store/lua/record_webhook.lua")
        )),
        open_widget: Script::new(include_str!("../../../src/store/lua/open_widget.lua")),
        settled: Mutex::new(Default::default()),
    });
    let received = web::Data::new(Mutex::new(Received::default()));
    HttpServer::new(move || {
        App::new()
            .app_data(floor.clone())
            .app_data(received.clone())
            .route("/events", web::post().to(receive_event))
            .route("/events", web::delete().to(reset_events))
            .route("/events/stats", web::get().to(event_stats))
            .route("/callbacks/{id}/{kind}", web::get().to(callback))
            .route("/bare/callbacks/{id}/success", web::get().to(bare_success))
            .route("/v1/widget-sessions/{id}", web::get().to(status))
            .route("/webhooks/belvo", web::post().to(webhook))
            .route("/w/{id}", web::get().to(widget))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_event_time_the_bff_writes() {
        // 2026-11-29T17:44:05Z is 1_795_974_245 s after the epoch.
        let body =
            br#"{"type":"session.succeeded","timestamp":"2026-11-29T17:44:05.123Z","data":{}}"#;
        assert_eq!(event_millis(body), Some(1_795_974_245_123));
        assert_eq!(
            rfc3339_millis("2026-11-29T17:44:05Z"),
            Some(1_795_974_245_000)
        );
        assert_eq!(
            rfc3339_millis("2026-11-29T17:44:05.1Z"),
            Some(1_795_974_245_100)
        );
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_millis("2024-02-29T00:00:00.000Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(event_millis(br#"{"type":"x"}"#), None);
        assert_eq!(json_string(body, b"\"type\":\""), Some("session.succeeded"));
    }

    #[test]
    fn names_the_funnel_hash_of_the_day_and_shard_as_the_bff() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        let floor_prefix = "bench";
        let id = "cb65f82c-dc93-4d3e-8270-9a27528397f5";
        let day_ms = 20_786 * MS_PER_DAY + 5;
        // bench/keys.py (an implementation of its own) puts this id in shard 09.
        assert_eq!(shard(id), 9);
        let tag = format!("{{sh:{:02}}}", shard(id));
        let (key, expiry) = (
            format!("{floor_prefix}:{tag}:funnel:2026-11-29"),
            (20_786 + 91) * MS_PER_DAY,
        );
        assert_eq!(key_and_expiry(floor_prefix, id, day_ms), (key, expiry));
    }
}
