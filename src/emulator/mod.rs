//! The Belvo emulator: Belvo's API and hosted widget as the guides describe them, offline.
//! Mounted at `/emulator` in embedded mode, or served alone by `belvo-bff emulator`.
//! The BFF's own reqwest client talks to it exactly as to Belvo (Basic auth, same paths).

mod api_auth;
mod banking;
mod breaks;
mod catalog;
mod control;
mod data;
mod institutions;
mod link_list;
mod links;
mod pages;
mod portal;
mod refusals;
mod token;
mod webhooks;
mod widget;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use secrecy::SecretString;
use serde::Serialize;

use crate::belvo::types::TokenRequest;
use crate::config::{Settings, WebhookTarget};

pub use links::FIXTURE_USERNAMES;

/// A widget token the emulator issued.
struct IssuedToken {
    request: TokenRequest,
    exp: u64,
    /// Belvo invalidates a token once a user connects successfully.
    used: bool,
}

/// A link the emulator created.
#[derive(Debug, Clone, Serialize)]
struct Link {
    id: String,
    institution: String,
    access_mode: String,
    status: &'static str,
    refresh_rate: Option<String>,
    created_by: &'static str,
    last_accessed_at: String,
    external_id: Option<String>,
    created_at: String,
    institution_user_id: String,
    credentials_storage: String,
    stale_in: Option<String>,
    fetch_resources: Vec<String>,
    /// Its open-finance consent, once the `break` control set one (not part of Belvo's link).
    #[serde(skip)]
    consent: Option<LinkConsent>,
}

/// An open-finance consent the emulator keeps for a link (My Belvo Portal shows and renews it).
#[derive(Debug, Clone)]
struct LinkConsent {
    id: String,
    /// `expiring`, `expired` or `active` (after a renewal).
    state: &'static str,
    /// RFC 3339.
    due_date: String,
}

/// Calls received, per endpoint (so tests can prove what never reached "Belvo").
#[derive(Default)]
struct Counters {
    token: AtomicU64,
    links: AtomicU64,
    data: AtomicU64,
    /// Reads of a link's record (`GET /api/links/{id}/`).
    link_reads: AtomicU64,
    webhooks_sent: AtomicU64,
    webhooks_failed: AtomicU64,
}

#[derive(Default)]
struct State {
    tokens: HashMap<String, IssuedToken>,
    /// My Belvo Portal tokens (`consent_management` requests), by `jti`.
    portal_tokens: HashMap<String, portal::PortalToken>,
    links: HashMap<String, Link>,
    /// Link attempts per username, for `forbidden_by_host` (3 per 24 h).
    attempts: HashMap<String, Vec<std::time::Instant>>,
    last_prune: Option<std::time::Instant>,
}

/// Expired tokens are kept this long (so the widget can still say `ACCESS_TOKEN_NOT_VALID`).
const TOKEN_GRACE_SECS: u64 = 600;
/// The most tokens the emulator remembers; past it, the soonest to expire go first.
const MAX_TOKENS: usize = 50_000;
/// The most links the emulator remembers; the oldest go first.
const MAX_LINKS: usize = 100_000;

impl State {
    /// Keeps memory bounded under load: drops long-expired tokens, stale attempt counters and
    /// the oldest links past `MAX_LINKS`. Runs at most once a minute, from writes.
    fn prune(&mut self) {
        let now = std::time::Instant::now();
        let recent = self
            .last_prune
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(60));
        if recent && self.tokens.len() <= MAX_TOKENS && self.links.len() <= MAX_LINKS {
            return;
        }
        self.last_prune = Some(now);
        let unix_now = jsonwebtoken::get_current_timestamp();
        self.tokens
            .retain(|_, t| t.exp + TOKEN_GRACE_SECS > unix_now);
        self.portal_tokens
            .retain(|_, t| t.exp + TOKEN_GRACE_SECS > unix_now);
        if self.tokens.len() > MAX_TOKENS {
            // Under a flood (benchmarks), keep the newest half: exactly half, as thousands of
            // tokens share each second of `exp` (a cut by `exp` alone could keep most of them
            // and leave every later request pruning again).
            let mut by_exp: Vec<(u64, String)> = self
                .tokens
                .iter()
                .map(|(jti, t)| (t.exp, jti.clone()))
                .collect();
            by_exp.sort_unstable();
            for (_, jti) in &by_exp[..by_exp.len() - MAX_TOKENS / 2] {
                self.tokens.remove(jti);
            }
        }
        self.attempts.retain(|_, at| {
            at.retain(|a| now.duration_since(*a) < Duration::from_secs(24 * 3600));
            !at.is_empty()
        });
        if self.links.len() > MAX_LINKS {
            let mut by_age: Vec<(String, String)> = self
                .links
                .values()
                .map(|l| (l.created_at.clone(), l.id.clone()))
                .collect();
            by_age.sort();
            for (_, id) in by_age.iter().take(self.links.len() - MAX_LINKS) {
                self.links.remove(id);
            }
        }
    }
}

pub struct Emulator {
    secret_id: SecretString,
    secret_password: SecretString,
    /// Signs access and refresh tokens (HS512, as Belvo's).
    signing_key: Vec<u8>,
    /// Path the emulator is mounted under (`/emulator` embedded, empty standalone).
    mount: String,
    webhooks: Option<WebhookTarget>,
    http: reqwest::Client,
    state: Mutex<State>,
    counters: Arc<Counters>,
    /// Lifetime of the widget access tokens it issues, in seconds.
    access_ttl_secs: u64,
    /// Waited before every API answer (`emulator.latency`).
    latency: std::time::Duration,
}

impl Emulator {
    pub fn new(settings: &Settings, mount: &str, webhooks: Option<WebhookTarget>) -> Self {
        use rand::RngCore;
        let mut signing_key = vec![0u8; 64];
        rand::thread_rng().fill_bytes(&mut signing_key);
        Self {
            secret_id: settings.secrets.belvo_secret_id.clone(),
            secret_password: settings.secrets.belvo_secret_password.clone(),
            signing_key,
            mount: mount.to_owned(),
            webhooks,
            http: reqwest::Client::new(),
            state: Mutex::new(State::default()),
            counters: Arc::default(),
            access_ttl_secs: settings.emulator.access_token_ttl.as_secs().max(1),
            latency: settings.emulator.latency,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Registers the emulator's routes on `cfg` (under whatever scope the caller chose). Every path
/// answers a method it does not take with 405 and a path it does not know with 404, in Belvo's
/// error shape (the widget's pages keep their HTML).
pub fn configure(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post};
    cfg.app_data(refusals::query_config());
    let routes: Vec<(&'static str, &'static str, Vec<actix_web::Route>)> = vec![
        ("/api/", "GET", vec![get().to(catalog::root)]),
        ("/api/token/", "POST", vec![post().to(token::create)]),
        (
            "/api/links/",
            "GET, POST",
            vec![get().to(link_list::list), post().to(links::create)],
        ),
        (
            "/api/links/{id}/",
            "GET, DELETE",
            vec![get().to(links::show), delete().to(link_list::delete)],
        ),
        ("/api/institutions/", "GET", vec![get().to(catalog::list)]),
        ("/api/owners/", "GET", vec![get().to(data::owners)]),
        (
            "/api/employment-records/",
            "GET",
            vec![get().to(data::employment_records)],
        ),
        (
            "/api/employment-metrics/",
            "GET",
            vec![get().to(data::employment_metrics)],
        ),
        (
            "/api/br/employments/",
            "GET",
            vec![get().to(data::br_employments)],
        ),
        (
            "/api/co/employments/",
            "GET",
            vec![get().to(data::co_employments)],
        ),
        ("/api/accounts/", "GET", vec![get().to(banking::accounts)]),
        (
            "/api/transactions/",
            "GET",
            vec![get().to(banking::transactions)],
        ),
        ("/widget/", "GET", vec![get().to(widget::page)]),
        (
            "/widget/branding.css",
            "GET",
            vec![get().to(widget::branding_css)],
        ),
        ("/widget/outcome", "POST", vec![post().to(widget::outcome)]),
        ("/portal/", "GET", vec![get().to(portal::page)]),
        ("/portal/renew", "POST", vec![post().to(portal::renew)]),
        (
            "/_emulator/tokens/{jti}",
            "GET",
            vec![get().to(token::show)],
        ),
        (
            "/_emulator/portal-tokens/{jti}",
            "GET",
            vec![get().to(portal::show)],
        ),
        ("/_emulator/stats", "GET", vec![get().to(stats)]),
        (
            "/control/reset",
            "POST",
            vec![post().to(control::reset_route)],
        ),
        (
            "/control/links/{id}/break",
            "POST",
            vec![post().to(breaks::break_link)],
        ),
        (
            "/control/links/{id}/repair",
            "POST",
            vec![post().to(breaks::repair_link)],
        ),
    ];
    for (path, allowed, methods) in routes {
        let resource = methods
            .into_iter()
            .fold(web::resource(path), |resource, route| resource.route(route))
            .default_service(web::to(refusals::method_not_allowed(allowed)));
        if path.starts_with("/api/") {
            cfg.service(resource.wrap(actix_web::middleware::from_fn(with_latency)));
        } else {
            cfg.service(resource);
        }
    }
    cfg.default_service(web::to(refusals::not_found));
}

/// Answers an API call after `emulator.latency`, as Belvo's API takes its time.
async fn with_latency(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let latency = req
        .app_data::<web::Data<Emulator>>()
        .map_or(std::time::Duration::ZERO, |e| e.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    next.call(req).await
}

/// `GET /_emulator/stats`: calls received and webhooks sent (Basic auth).
async fn stats(
    emulator: web::Data<Emulator>,
    req: actix_web::HttpRequest,
) -> actix_web::HttpResponse {
    if let Some(denied) = api_auth::denied(&emulator, &req) {
        return denied;
    }
    let c = &emulator.counters;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    actix_web::HttpResponse::Ok().json(serde_json::json!({
        "token_requests": load(&c.token),
        "link_requests": load(&c.links),
        "data_requests": load(&c.data),
        "link_reads": load(&c.link_reads),
        "webhooks_sent": load(&c.webhooks_sent),
        "webhooks_failed": load(&c.webhooks_failed),
        "links": emulator.state().links.len(),
    }))
}

/// `belvo-bff emulator --port N`: the emulator alone, at the root path. Webhooks go to
/// `emulator.webhook_url` when set.
pub async fn serve_standalone(settings: &Settings, port: u16) -> anyhow::Result<()> {
    let target = settings
        .emulator
        .webhook_url
        .as_ref()
        .map(|url| settings.emulator.webhook_target(url.as_str(), settings));
    let emulator = web::Data::new(Emulator::new(settings, "", target));
    let host = settings.server.host.clone();
    tracing::info!(%host, port, "belvo emulator listening");
    eprintln!(
        "Belvo emulator on http://{host}:{port} (API under /api/, widget at /widget/)\n\
         Basic auth: BELVO_SECRET_ID / BELVO_SECRET_PASSWORD (development defaults when unset)"
    );
    actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(tracing_actix_web::TracingLogger::<
                crate::telemetry::RequestSpan,
            >::new())
            .app_data(emulator.clone())
            .route("/static/style.css", web::get().to(crate::pages::stylesheet))
            .configure(configure)
    })
    .bind((host.as_str(), port))?
    .run()
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_tokens_issued_in_one_second_is_cut_to_half_the_bound() {
        let request: TokenRequest = serde_json::from_value(serde_json::json!({
            "id": "id", "password": "password", "scopes": "read_institutions,write_links",
            "fetch_resources": ["EMPLOYMENT_RECORDS"],
            "widget": {"callback_urls": {"success": "s", "exit": "e", "event": "v"}},
        }))
        .unwrap();
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        let mut state = State::default();
        for n in 0..=MAX_TOKENS {
            let token = IssuedToken {
                request: request.clone(),
                exp,
                used: false,
            };
            state.tokens.insert(format!("jti-{n}"), token);
        }
        state.prune();
        assert_eq!(state.tokens.len(), MAX_TOKENS / 2);
        // Not over the bound any more, so the next write does not prune again.
        let before = state.last_prune;
        state.prune();
        assert_eq!(state.last_prune, before);
    }
}
