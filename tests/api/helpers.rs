//! `spawn_app()` and the calls a mobile app, the widget and a tester make.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use belvo_bff::config::{Settings, StoreBackend};
use belvo_bff::startup::Application;
use belvo_bff::store::{Durability, Keys, RedisConnection, RedisStore, Retention};
use serde_json::{json, Value};

#[path = "answers.rs"]
pub mod answers;

pub const LINK_ID: &str = "cb65f82c-dc93-4d3e-8270-9a27528397f5";

/// Where the store lives for a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    /// One redis-server (`TEST_REDIS_URL`).
    Redis,
    /// A 3-master Redis Cluster (`TEST_REDIS_CLUSTER_URLS`).
    Cluster,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    /// Which Redis and the key prefix (unique per test) when the app uses Redis.
    pub redis: Option<(StoreKind, String)>,
}

pub fn test_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").expect(
        "TEST_REDIS_URL is not set: run scripts/test.sh, which starts a redis-server for the tests",
    )
}

/// The nodes of the test Redis Cluster.
pub fn test_redis_cluster_urls() -> Vec<String> {
    std::env::var("TEST_REDIS_CLUSTER_URLS")
        .expect(
            "TEST_REDIS_CLUSTER_URLS is not set: run scripts/test.sh, which starts a Redis Cluster",
        )
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// Runs each listed `async fn(StoreKind)` test twice: on one Redis (`on_redis::name`) and on a
/// Redis Cluster (`on_cluster::name`).
macro_rules! on_redis_and_cluster {
    ($($name:ident),* $(,)?) => {
        mod on_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::StoreKind::Redis).await;
                }
            )*
        }
        mod on_cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::StoreKind::Cluster).await;
                }
            )*
        }
    };
}
pub(crate) use on_redis_and_cluster;

/// Settings as `cargo run` would load them with an empty environment, on port 0.
pub fn base_settings(kind: StoreKind) -> Settings {
    let mut settings = Settings::load_from(&BTreeMap::new()).expect("defaults load");
    settings.server.port = 0;
    settings.server.workers = 1;
    // Webhooks from the emulator arrive quickly in tests.
    settings.emulator.webhook_delay = Duration::from_millis(50);
    match kind {
        StoreKind::Memory => {}
        StoreKind::Redis => settings.store.redis_url = test_redis_url(),
        StoreKind::Cluster => settings.store.cluster_urls = test_redis_cluster_urls(),
    }
    settings.store.key_prefix = unique_prefix();
    // Event tests count what their own receivers get; the tests of /demo/events switch the
    // demo's receiver back on.
    settings.notify.demo_receiver = false;
    if std::env::var("TEST_LOG").is_ok() {
        settings.log.format = belvo_bff::config::LogFormat::Pretty;
        settings.log.level = "debug".into();
        // Tests log for the whole process: the writer lives as long.
        std::mem::forget(belvo_bff::telemetry::init(&settings.log));
    }
    settings
}

/// The app on Redis with the embedded defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(StoreKind::Redis, |_| {}).await
}

/// The app on the given store with the embedded defaults.
pub async fn spawn_app_on(kind: StoreKind) -> TestApp {
    spawn_app_with(kind, |_| {}).await
}

pub async fn spawn_app_with(kind: StoreKind, customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = base_settings(kind);
    customize(&mut settings);
    spawn_settings(settings).await
}

pub async fn spawn_settings(settings: Settings) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let kind = match settings.store.backend() {
        StoreBackend::Memory => None,
        StoreBackend::Redis(_) => Some(StoreKind::Redis),
        StoreBackend::Cluster(_) => Some(StoreKind::Cluster),
    };
    let redis = kind.map(|kind| (kind, settings.store.key_prefix.clone()));
    TestApp {
        address,
        client: client(),
        settings,
        redis,
    }
}

/// A client like a mobile app's HTTP stack: no redirects followed, bounded in time.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap()
}

/// The OFDA consent of the guide's sample user.
pub fn ofda_consent() -> Value {
    json!({"identification_info": [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]})
}

/// Whatever the test did, the statuses and codes answered so far must be documented.
impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            answers::assert_answers_are_documented();
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// An app JWT for `sub`, as `belvo-bff token --sub` prints it.
    pub fn token(&self, sub: &str) -> String {
        belvo_bff::jwt::mint(
            &self.settings,
            sub,
            belvo_bff::auth::Role::App,
            Duration::from_secs(3600),
        )
        .unwrap()
    }

    pub async fn post_session(&self, sub: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/widget-sessions"))
            .bearer_auth(self.token(sub))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Opens a session for `product` and returns the 201 body.
    pub async fn open(&self, sub: &str, product: &str, platform: &str) -> Value {
        let mut body = json!({"product": product, "platform": platform});
        if product == "br_ofda" {
            body["consent"] = ofda_consent();
        }
        let response = self.post_session(sub, &body).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    pub async fn callback(&self, session_id: &str, kind: &str, query: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/callbacks/{session_id}/{kind}?{query}")))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_status(&self, sub: &str, session_id: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/v1/widget-sessions/{session_id}")))
            .bearer_auth(self.token(sub))
            .send()
            .await
            .unwrap()
    }

    pub async fn status(&self, sub: &str, session_id: &str) -> Value {
        let response = self.get_status(sub, session_id).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// A link made for `sub` through the API flow (Colombian employment, the emulator's
    /// fixture cédula); its id.
    pub async fn api_link(&self, sub: &str) -> String {
        let response = self
            .client
            .post(self.url("/v1/links"))
            .bearer_auth(self.token(sub))
            .json(&json!({"product": "co_employment", "username": "1020304050"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let link: Value = response.json().await.unwrap();
        link["link_id"].as_str().unwrap().to_owned()
    }

    /// The emulator's control endpoint for a link: `break` (with its reason) or `repair`
    /// Belvo's record of it.
    pub async fn emulator_control(&self, id: &str, action: &str, body: Value) {
        let response = self
            .client
            .post(self.url(&format!("/emulator/control/links/{id}/{action}")))
            .basic_auth("dev-secret-id", Some("dev-secret-password"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// Where a session's `widget_url` (`/w/{id}`) sends the browser: Belvo's widget with its
    /// token (opening it, as a person would). Any other URL is returned as it is.
    pub async fn belvo_widget(&self, widget_url: &str) -> String {
        if !widget_url.starts_with(&self.url("/w/")) {
            return widget_url.to_owned();
        }
        let response = self.client.get(widget_url).send().await.unwrap();
        assert_eq!(
            response.status(),
            302,
            "{widget_url}: {}",
            response.text().await.unwrap()
        );
        location(&response)
    }

    /// The token request the (emulated) Belvo received for a widget URL's access token.
    pub async fn token_request_for(&self, widget_url: &str) -> Value {
        let widget_url = &self.belvo_widget(widget_url).await;
        let url = url::Url::parse(widget_url).unwrap();
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .expect("widget_url has an access_token");
        let claims = jwt_claims(&token);
        let jti = claims["jti"].as_str().unwrap();
        let response = self
            .client
            .get(self.url(&format!("/emulator/_emulator/tokens/{jti}")))
            .basic_auth("dev-secret-id", Some("dev-secret-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `GET /emulator{path}` with the emulator's Basic auth, as JSON (what "Belvo" has).
    pub async fn emulator_get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(&format!("/emulator{path}")))
            .basic_auth("dev-secret-id", Some("dev-secret-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    /// A direct connection to the app's Redis or Redis Cluster (for assertions about what is
    /// stored).
    pub async fn redis_conn(&self) -> RedisConnection {
        let timeout = Duration::from_secs(2);
        let connected = match self.settings.store.backend() {
            StoreBackend::Redis(url) => RedisConnection::single(url, timeout).await,
            StoreBackend::Cluster(urls) => RedisConnection::cluster(urls, timeout).await,
            StoreBackend::Memory => panic!("the app does not use Redis"),
        };
        connected.unwrap().0
    }

    /// Plays the hosted widget: picks `outcome` for the session's widget URL (as the emulator's
    /// form does) and returns where the widget sends the webview.
    pub async fn widget_outcome(
        &self,
        widget_url: &str,
        outcome: &str,
        institution: &str,
    ) -> String {
        let widget_url = &self.belvo_widget(widget_url).await;
        let form = [
            ("access_token", param(widget_url, "access_token").unwrap()),
            ("outcome", outcome.to_owned()),
            ("institution", institution.to_owned()),
            (
                "access_mode",
                param(widget_url, "access_mode").unwrap_or_default(),
            ),
            (
                "external_id",
                param(widget_url, "external_id").unwrap_or_default(),
            ),
        ];
        let response = self
            .client
            .post(self.url("/emulator/widget/outcome"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
        location(&response)
    }

    /// Opens a session and connects it through the emulated widget; returns (session id, link id).
    pub async fn connect(&self, sub: &str, product: &str, institution: &str) -> (String, String) {
        let session = self.open(sub, product, "ios").await;
        let id = session["session_id"].as_str().unwrap().to_owned();
        let callback = self
            .widget_outcome(
                session["widget_url"].as_str().unwrap(),
                "success",
                institution,
            )
            .await;
        let link = param(&callback, "link").unwrap();
        let response = self.client.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), 302);
        (id, link)
    }

    /// Waits (long-poll) until the session's resources have all arrived.
    pub async fn status_until_resources(&self, sub: &str, session_id: &str) -> Value {
        let response = self
            .client
            .get(self.url(&format!(
                "/v1/widget-sessions/{session_id}?wait=20&until=resources"
            )))
            .bearer_auth(self.token(sub))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Posts a webhook as Belvo does (bearer token of the embedded defaults).
    pub async fn webhook(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/webhooks/belvo"))
            .bearer_auth("dev-webhook-token")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The key of a session's hash (Redis only).
    pub fn session_key(&self, session_id: &str) -> String {
        let (_, prefix) = self.redis.as_ref().unwrap();
        let id = belvo_bff::domain::ids::SessionId::parse(session_id).unwrap();
        Keys::new(prefix).session(&id)
    }

    /// The key of a session's timeline (Redis only).
    pub fn timeline_key(&self, session_id: &str) -> String {
        let (_, prefix) = self.redis.as_ref().unwrap();
        let id = belvo_bff::domain::ids::SessionId::parse(session_id).unwrap();
        Keys::new(prefix).timeline(&id)
    }

    /// The key of a link's hash (Redis only).
    pub fn link_key(&self, link: &str) -> String {
        let (_, prefix) = self.redis.as_ref().unwrap();
        Keys::new(prefix).link(&belvo_bff::domain::ids::LinkId::parse(link).unwrap())
    }

    /// The key of a link's webhook timeline (Redis only).
    pub fn link_timeline_key(&self, link: &str) -> String {
        let (_, prefix) = self.redis.as_ref().unwrap();
        Keys::new(prefix).link_timeline(&belvo_bff::domain::ids::LinkId::parse(link).unwrap())
    }

    /// Number of events stored for a session (Redis only).
    pub async fn stored_event_count(&self, session_id: &str) -> i64 {
        let (_, prefix) = self.redis.as_ref().unwrap();
        let mut conn = self.redis_conn().await;
        let id = belvo_bff::domain::ids::SessionId::parse(session_id).unwrap();
        let key = Keys::new(prefix).timeline(&id);
        redis::cmd("LLEN")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap()
    }
}

/// The decoded payload of a JWT (no signature check).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The query parameters of a URL, in order.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param(url: &str, key: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The Location header of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// A stand-in HTTP server on a free port answering every request with `handler` (a Belvo that
/// hangs or fails, a webhook receiver); returns its base URL.
pub fn stub_server<F, Fut>(handler: F) -> String
where
    F: Fn(actix_web::HttpRequest) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = actix_web::HttpResponse> + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().default_service(actix_web::web::to(handler.clone()))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

/// A Redis store on `url` under its own key `prefix` (the store suites' builder).
pub async fn redis_store_on(url: &str, prefix: &str, ttl: impl Into<Retention>) -> RedisStore {
    RedisStore::connect(url, Keys::new(prefix), ttl.into(), Duration::from_secs(2))
        .await
        .unwrap()
}

/// A store on the test Redis Cluster under its own key `prefix`.
pub async fn cluster_store_with(prefix: &str, ttl: impl Into<Retention>) -> RedisStore {
    RedisStore::connect_cluster(
        &test_redis_cluster_urls(),
        Keys::new(prefix),
        ttl.into(),
        Durability::default(),
        Duration::from_secs(2),
    )
    .await
    .unwrap()
}
