//! One place turns [`Settings`] into a running server; `main` and the tests both go through it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::belvo::BelvoClient;
use crate::branding::BrandingCache;
use crate::config::notify::Endpoint;
use crate::config::{BelvoEnvironment, Settings, StoreBackend};
use crate::domain::event::EventPattern;
use crate::domain::external_id::ExternalIdKey;
use crate::emulator::Emulator;
use crate::error::{ApiError, ErrorCode, REQUEST_ID};
use crate::institutions::Institutions;
use crate::jwt::AppJwtVerifier;
use crate::links::Links;
use crate::notify::receiver::DemoReceiver;
use crate::notify::Notifier;
use crate::routes::demo_events::{DEMO_EVENTS_PATH, DEMO_SECRET_NAME};
use crate::scheduler::Scheduler;
use crate::sessions::waiting::Waiters;
use crate::sessions::Sessions;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::store::{Durability, DynStore, Keys, MemoryStore, Migration, RedisStore, Retention};
use crate::telemetry::RequestSpan;

pub struct Application {
    port: u16,
    server: Server,
    shutdown: Arc<Shutdown>,
    shutdown_delay: std::time::Duration,
    /// The background link checks, run while the server runs (`links.background_checks`).
    scheduler: Scheduler,
    background_checks: bool,
    /// The outbound events' delivery loop, when endpoints are configured and this replica
    /// delivers.
    notifier: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Binds the listener, connects the store, and builds the server (not yet running).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        // TLS to Redis (rediss://) uses rustls' process-wide provider; name it, since a build
        // that also enables aws-lc-rs (e.g. through test dependencies) cannot pick one alone.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {}:{}: {e}",
                    settings.server.host,
                    settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let demo_events = add_demo_receiver(&mut settings, port);
        let store = connect_store(&settings).await?;
        let consumer = format!("replica-{}", uuid::Uuid::new_v4().simple());
        let notifier = Notifier::new(store.clone(), &settings, consumer)
            .await?
            .and_then(Notifier::spawn);
        let branding = BrandingCache::start(store.clone(), &settings.products).await;
        let shutdown_delay = settings.server.shutdown_delay;
        // With a JWKS, fetches the keys once now (a failure is logged and retried, not fatal).
        let app_jwt = AppJwtVerifier::start(&settings).await?;
        let state = build_state(settings, store, branding, app_jwt, port)?;
        let shutdown = state.shutdown.clone();
        let background_checks = state.settings.links.background_checks;
        let scheduler = Scheduler::new(
            state.belvo.clone(),
            state.store.clone(),
            &state.settings.links,
            state.sessions.known_institutions.clone(),
        );
        let server = serve(listener, state, demo_events)?;
        Ok(Self {
            port,
            server,
            shutdown,
            shutdown_delay,
            scheduler,
            background_checks,
            notifier,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM/SIGINT, then stops in order (see [`Shutdown`]): readiness false,
    /// listener closed, in-flight requests drained.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (shutdown, delay) = (self.shutdown, self.shutdown_delay);
        let signals = tokio::spawn(async move { shutdown.on_signal(handle, delay).await });
        let background = self.background_checks;
        let scheduler = tokio::spawn(async move {
            if background {
                self.scheduler.run().await
            }
        });
        let result = self.server.await;
        signals.abort();
        scheduler.abort();
        if let Some(notifier) = self.notifier {
            // Events it held are taken over by another replica (or by this one on restart).
            notifier.abort();
        }
        tracing::info!("stopped");
        result
    }
}

async fn connect_store(settings: &Settings) -> anyhow::Result<DynStore> {
    let retention = Retention {
        sessions: settings.sessions.retention,
        links: settings.links.retention,
    };
    let Some(store) = connect_redis(settings).await? else {
        let events = settings.notify.enabled();
        let store = MemoryStore::new(retention)
            .with_events(events)
            .with_fetch_resources(fetch_resources(settings));
        return Ok(Arc::new(store));
    };
    let store = Arc::new(store);
    migrate_keys(store.clone()).await;
    Ok(store)
}

/// The Redis store of the configuration, or none for the memory store.
pub async fn connect_redis(settings: &Settings) -> anyhow::Result<Option<RedisStore>> {
    let retention = Retention {
        sessions: settings.sessions.retention,
        links: settings.links.retention,
    };
    let keys = Keys::new(&settings.store.key_prefix);
    let durability = Durability {
        replicas: settings.store.ack_replicas,
        timeout: settings.store.ack_timeout,
    };
    let timeout = settings.store.timeout;
    // Link changes write their events when an endpoint is configured (SPEC §13).
    let events = settings.notify.enabled();
    let store = match settings.store.backend() {
        StoreBackend::Cluster(urls) => {
            RedisStore::connect_cluster(urls, keys, retention, durability, timeout).await?
        }
        StoreBackend::Redis(url) => {
            RedisStore::connect_durable(url, keys, retention, durability, timeout).await?
        }
        StoreBackend::Memory => return Ok(None),
    };
    Ok(Some(
        store
            .with_events(events)
            .with_fetch_resources(fetch_resources(settings)),
    ))
}

/// Each product's fetch resources, for the stores to tell when a link's are all ready.
fn fetch_resources(settings: &Settings) -> crate::domain::webhook::FetchResources {
    let by_product = settings.products.iter().map(|(name, product)| {
        let resources = product
            .fetch_resources
            .iter()
            .map(|r| r.as_str().to_owned());
        (name.to_string(), resources.collect())
    });
    Arc::new(by_product.collect())
}

/// Moves data of the key layout before shards before serving (see `docs/store.md`); when
/// Redis does not answer yet, in the background once it does.
async fn migrate_keys(store: Arc<RedisStore>) {
    let report = |done: Option<Migration>| {
        if let Some(done) = done.filter(|d| d.found > 0) {
            tracing::info!(
                found = done.found,
                moved = done.moved,
                "keys of the layout before shards moved"
            );
        }
    };
    match store.migrate_keys_once().await {
        Ok(done) => report(done),
        Err(e) => {
            tracing::warn!(error = %e, "key layout not checked yet: retried in the background");
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    match store.migrate_keys_once().await {
                        Ok(done) => return report(done),
                        Err(e) => tracing::debug!(error = %e, "key layout check retried"),
                    }
                }
            });
        }
    }
}

/// The server's own address, for calls it makes to itself.
fn local_base(settings: &Settings, port: u16) -> String {
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        h => h,
    };
    format!("http://{host}:{port}")
}

/// Embedded (the demo is on) with `notify.demo_receiver`: one more events endpoint, the demo's own receiver page
/// `/demo/events`, signed with a secret made now, so the demo needs no variable. Real endpoints
/// keep needing theirs.
fn add_demo_receiver(settings: &mut Settings, port: u16) -> Option<Arc<DemoReceiver>> {
    if settings.belvo.environment != BelvoEnvironment::Embedded || !settings.notify.demo_receiver {
        return None;
    }
    let (receiver, secret) = DemoReceiver::generate();
    let url = format!("{}{DEMO_EVENTS_PATH}", local_base(settings, port));
    let url = url::Url::parse(&url).ok()?;
    settings
        .secrets
        .notify
        .insert(DEMO_SECRET_NAME.to_owned(), secret);
    settings.notify.endpoints.push(Endpoint {
        url,
        events: vec![EventPattern::parse("*").ok()?],
        secret_env: DEMO_SECRET_NAME.to_owned(),
    });
    Some(Arc::new(receiver))
}

fn build_state(
    settings: Settings,
    store: DynStore,
    branding: Arc<BrandingCache>,
    app_jwt: AppJwtVerifier,
    port: u16,
) -> anyhow::Result<AppState> {
    let local_base = local_base(&settings, port);
    let public_base_url = match &settings.server.public_base_url {
        None => local_base.clone(),
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
    };
    // Embedded: the BFF's own client calls the emulator mounted on this server, over HTTP.
    let belvo_base = settings
        .belvo_base_url()
        .unwrap_or_else(|| format!("{local_base}/emulator"));
    let widget_url = settings
        .widget_url()
        .unwrap_or_else(|| format!("{public_base_url}/emulator/widget/"));
    let portal_url = settings
        .portal_url()
        .unwrap_or_else(|| format!("{public_base_url}/emulator/portal/"));
    let belvo = BelvoClient::new(
        &belvo_base,
        crate::belvo::Pool::from_settings(&settings.belvo),
        settings.secrets.belvo_secret_id.clone(),
        settings.secrets.belvo_secret_password.clone(),
    );
    let waiters = Arc::new(Waiters::new(
        settings.limits.max_waiting,
        settings.limits.max_waiting_per_user,
    ));
    waiters.follow(store.subscribe());
    let settings = Arc::new(settings);
    let external_ids = ExternalIdKey::new(&settings.secrets.external_id_key);
    let sessions = Sessions {
        settings: settings.clone(),
        store: store.clone(),
        belvo: belvo.clone(),
        branding: branding.clone(),
        public_base_url: public_base_url.clone(),
        widget_url: widget_url.clone(),
        known_institutions: Arc::new(crate::sessions::known_institutions(&settings)),
    };
    let links = Links {
        settings: settings.clone(),
        store: store.clone(),
        belvo: belvo.clone(),
        portal_url,
    };
    let institutions = Institutions::start(settings.clone(), store.clone(), belvo.clone());
    Ok(AppState {
        branding,
        external_ids,
        settings,
        store,
        belvo,
        app_jwt,
        app_users: crate::jwt::VerifiedTokens::new(crate::jwt::VERIFIED_TOKENS_BYTES),
        public_base_url,
        local_base_url: local_base,
        widget_url,
        shutdown: Arc::new(Shutdown::default()),
        waiters,
        sessions,
        links,
        institutions,
    })
}

fn serve(
    listener: TcpListener,
    state: AppState,
    demo_events: Option<Arc<DemoReceiver>>,
) -> anyhow::Result<Server> {
    let settings = state.settings.clone();
    let emulator = (settings.belvo.environment == BelvoEnvironment::Embedded).then(|| {
        // Embedded, the emulator's webhooks come back to this server.
        let url = match &settings.emulator.webhook_url {
            None => format!("{}/webhooks/belvo", state.local_base_url),
            Some(url) => url.to_string(),
        };
        let target = settings.emulator.webhook_target(&url, &settings);
        web::Data::new(Emulator::new(&settings, "/emulator", Some(target)))
    });
    let state = web::Data::new(state);
    let demo_events = demo_events.map(web::Data::from);
    let json_limit = settings.server.json_limit;
    let shutdown_timeout = settings.server.shutdown_timeout.as_secs();
    let webhook_limit = settings.webhooks.body_limit;
    let hsts = settings.belvo.environment != BelvoEnvironment::Embedded;
    // The recorder first, so counters hit before the first scrape are kept.
    crate::metrics::handle();
    let mut server = HttpServer::new(move || {
        let mut app = App::new()
            .wrap(security_headers(hsts))
            .wrap(from_fn(limit_headers))
            .wrap(from_fn(request_id_scope))
            .wrap(TracingLogger::<RequestSpan>::new())
            .wrap(from_fn(crate::routes::metrics::record_request))
            .app_data(state.clone())
            .app_data(crate::routes::json_config(json_limit))
            .app_data(query_config())
            .app_data(path_config())
            .configure(|cfg| crate::routes::configure(cfg, webhook_limit))
            .default_service(web::to(not_found));
        if let Some(demo_events) = &demo_events {
            app = app
                .app_data(demo_events.clone())
                .configure(crate::routes::demo_events::configure);
        }
        if let Some(emulator) = &emulator {
            app = app.configure(crate::routes::demo::configure).service(
                web::scope("/emulator")
                    .app_data(emulator.clone())
                    .configure(crate::emulator::configure),
            );
        }
        app
    })
    // Signals are handled by `Application::run_until_stopped`, so readiness goes false first.
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.run())
}

/// Headers on every answer. With `hsts` (outside embedded mode, where the server is reached over
/// https through a proxy that ends TLS) browsers are told to use nothing else; embedded mode
/// serves plain http on localhost.
fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"));
    if hsts {
        headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Makes the request id available to error bodies and sends it back as `X-Request-Id`.
async fn request_id_scope(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let mut response = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(response)
}

/// Total request header bytes accepted; actix itself allows far more.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses requests whose headers are larger than any real client sends (431).
async fn limit_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        let error = ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("request headers exceed {MAX_HEADER_BYTES} bytes"),
        );
        return Ok(req.error_response(error));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("route"))
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::new(
            ErrorCode::InvalidQuery,
            format!("the query string is not valid: {err}"),
        )
        .into()
    })
}

fn path_config() -> web::PathConfig {
    // A malformed id in a path is an unknown one: 404, worded as for an id that does not exist.
    web::PathConfig::default().error_handler(|_err, req| {
        let info = req.match_info();
        let what = if info.get("session_id").is_some() {
            "session"
        } else if info.get("link_id").is_some() {
            "link"
        } else {
            "resource"
        };
        ApiError::not_found(what).into()
    })
}
