//! The company's backend for outbound events (SPEC §13): a local receiver that keeps every
//! request, and either answers 200 at once or holds each request (as a receiver that hangs)
//! until told to answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

/// The endpoint secret the tests configure (`whsec_` + base64).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Request {
    pub webhook_id: String,
    timestamp: String,
    signature: String,
    pub body: String,
    /// Whether the receiver answered it 200 (a delivery); a held one never is.
    pub answered: bool,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The session the event is about.
    pub fn session_id(&self) -> String {
        self.json()["data"]["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Panics unless the Standard Webhooks signature holds for [`SECRET`].
    pub fn verify(&self) {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("webhook-id", self.webhook_id.parse().unwrap());
        headers.insert("webhook-timestamp", self.timestamp.parse().unwrap());
        headers.insert("webhook-signature", self.signature.parse().unwrap());
        standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(self.body.as_bytes(), &headers)
            .unwrap_or_else(|e| panic!("{e}: {self:?}"));
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>/events`.
    pub url: String,
    got: Arc<Mutex<Vec<Request>>>,
    answering: tokio::sync::watch::Sender<bool>,
}

impl Receiver {
    /// A receiver that answers 200 at once (`answering`) or holds every request until
    /// [`Self::answer`] (then answers the held ones 503: they were never delivered).
    pub fn start(answering: bool) -> Self {
        let got: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (answering, watch) = tokio::sync::watch::channel(answering);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let kept = got.clone();
        let server = HttpServer::new(move || {
            let (kept, watch) = (kept.clone(), watch.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (kept, mut watch) = (kept.clone(), watch.clone());
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let answered = *watch.borrow_and_update();
                    kept.lock().unwrap().push(Request {
                        webhook_id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        answered,
                    });
                    if answered {
                        return HttpResponse::Ok().finish();
                    }
                    let _ = watch.wait_for(|answering| *answering).await;
                    HttpResponse::ServiceUnavailable().finish()
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url,
            got,
            answering,
        }
    }

    /// From now on, answers every request 200 at once.
    pub fn answer(&self) {
        self.answering.send_replace(true);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `enough` holds for what arrived (at most `limit`); returns it.
    pub async fn until(
        &self,
        limit: Duration,
        what: &str,
        enough: impl Fn(&[Request]) -> bool,
    ) -> Vec<Request> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.requests();
            if enough(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {limit:?}; got {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A configuration file (for `BFF_CONFIG`) sending `session.*` events to `url`, signed with
/// [`SECRET`] from `BFF_TEST_EVENTS_SECRET`, with retries quick enough for tests; removed when
/// dropped.
pub struct NotifyConfig {
    path: std::path::PathBuf,
}

impl NotifyConfig {
    /// `timeout`: how long the receiver has to answer (another replica takes an event over
    /// after this plus a second).
    pub fn new(url: &str, timeout: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("bff-notify-{}.toml", uuid::Uuid::new_v4().simple()));
        let text = format!(
            r#"[notify]
timeout = "{timeout}"
backoff = "200ms"
max_backoff = "1s"
poll = "50ms"

[[notify.endpoints]]
url = "{url}"
events = ["session.*"]
secret_env = "BFF_TEST_EVENTS_SECRET"
"#
        );
        std::fs::write(&path, text).unwrap();
        Self { path }
    }

    /// The environment a replica needs for it.
    pub fn env(&self) -> [(&str, &str); 2] {
        [
            ("BFF_CONFIG", self.path.to_str().unwrap()),
            ("BFF_TEST_EVENTS_SECRET", SECRET),
        ]
    }
}

impl Drop for NotifyConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
