//! Redis stops mid-run: the API answers 503 (not 500, not a hang), then recovers by itself.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{spawn_app_with, StoreKind};

/// A redis-server of this test's own, on a free port, keeping its data across restarts.
pub struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("bff-outage-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            port,
            dir,
            child: None,
        };
        redis.spawn();
        redis
    }

    pub fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: redis flushes its append-only file and exits.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn redis_down_gives_503_and_the_service_recovers_when_it_returns() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(StoreKind::Redis, |s| {
        s.store.redis_url = url;
        s.store.timeout = Duration::from_millis(500);
    })
    .await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();

    redis.stop();

    let started = Instant::now();
    let status = app.get_status("maria", &id).await;
    assert_503(status).await;
    let callback = app
        .callback(
            &id,
            "success",
            "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x",
        )
        .await;
    assert_503(callback).await;
    let create = app
        .post_session(
            "maria",
            &serde_json::json!({"product": "mx_employment", "platform": "ios"}),
        )
        .await;
    assert_503(create).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answers must not hang: {:?}",
        started.elapsed()
    );
    let metrics = crate::metrics::scrape(&app).await;
    assert!(crate::metrics::value(&metrics, "bff_redis_errors_total", &[]) >= 1.0);

    redis.spawn();

    // Recovers without a restart of the BFF.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let callback = app
        .callback(
            &id,
            "success",
            "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x",
        )
        .await;
    assert_eq!(callback.status(), 302);
    assert_eq!(app.status("maria", &id).await["status"], "succeeded");
}

async fn assert_503(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable");
}
