//! The background link checks with two replicas (SPEC §11): both run the scheduler against one
//! Redis and one standalone `belvo-bff emulator` (its state is per process, so the replicas
//! must share one), and every due link is read at Belvo exactly once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::bff::Bff;

/// A standalone emulator process on a free port; killed when dropped.
struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
            .args(["emulator", "--port", &port.to_string()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let emulator = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while emulator.stats_now().await.is_none() {
            assert!(Instant::now() < deadline, "the emulator did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        emulator
    }

    async fn stats_now(&self) -> Option<Value> {
        let response = reqwest::Client::new()
            .get(format!("{}/_emulator/stats", self.url))
            .basic_auth("dev-secret-id", Some("dev-secret-password"))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    async fn link_reads(&self) -> u64 {
        self.stats_now().await.unwrap()["link_reads"]
            .as_u64()
            .unwrap()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a link through the API flow on `bff` for user `n` (own user, own cédula).
async fn new_link(bff: &Bff, n: usize) -> String {
    let response = bff
        .client
        .post(bff.url("/v1/links"))
        .bearer_auth(bff.token(&format!("user-{n}")))
        .json(&json!({"product": "co_employment", "username": format!("10203{n:05}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let link: Value = response.json().await.unwrap();
    link["link_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_replicas_check_each_due_link_once_within_the_rate() {
    const LINKS: usize = 24;
    let emulator = Emulator::start().await;
    let redis_url = std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL (scripts/test.sh)");
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("REDIS_URL", redis_url.as_str()),
        ("BFF__STORE__KEY_PREFIX", prefix.as_str()),
        ("BFF__BELVO__BASE_URL", emulator.url.as_str()),
        // 24 due links at 8 a second: three seconds of claims, so checks lag.
        ("BFF__LINKS__CHECK_RATE", "8"),
    ];
    let (first, second) = tokio::join!(Bff::start(&env), Bff::start(&env));

    let mut links = Vec::new();
    for n in 0..LINKS {
        let on = if n % 2 == 0 { &first } else { &second };
        links.push(new_link(on, n).await);
    }
    assert_eq!(
        emulator.link_reads().await,
        0,
        "creating a link reads no record"
    );

    // Every link comes due 100 s ago (as after an outage), in one step.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let due = format!("{prefix}:{{due}}:entries");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let members: Vec<(i64, String)> = links
        .iter()
        .map(|l| (now_ms - 100_000, format!("c:{l}")))
        .collect();
    let moved: i64 = redis::cmd("ZADD")
        .arg(&due)
        .arg("XX")
        .arg("CH")
        .arg(&members)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(moved as usize, LINKS, "every link was on the schedule");

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lag_seen = 0;
    while emulator.link_reads().await < LINKS as u64 {
        assert!(Instant::now() < deadline, "not every link was checked");
        lag_seen = lag_seen
            .max(first.metric("bff_link_checks_overdue").await)
            .max(second.metric("bff_link_checks_overdue").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        lag_seen >= 90,
        "the overdue gauge showed the lag: {lag_seen}"
    );

    // Nothing is due any more (each claim pushed its link a period on), so no other read can
    // come: each link was read exactly once, by one replica or the other.
    let still_due: Vec<String> = redis
        .zrangebyscore(&due, "-inf", now_ms + 60_000)
        .await
        .unwrap();
    assert_eq!(still_due, Vec::<String>::new());
    assert_eq!(emulator.link_reads().await, LINKS as u64);
    let checks = |text: String| -> u64 {
        text.lines()
            .filter(|l| l.starts_with("bff_link_checks_total{") && l.contains("schedule"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
            .sum()
    };
    let mut total = 0;
    for bff in [&first, &second] {
        let text = bff.client.get(bff.url("/metrics")).send().await.unwrap();
        total += checks(text.text().await.unwrap());
    }
    assert_eq!(
        total, LINKS as u64,
        "each check counted once, on one replica"
    );
}
