//! A Redis that speaks TLS only (as managed Redis services do): `rediss://`, the server's
//! certificate checked against the system trust store, which `SSL_CERT_FILE` can extend with a
//! private CA.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::bff::Bff;

const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";

fn tls_redis() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run scripts/test.sh, which starts a TLS redis-server")
        })
    };
    (var("TEST_REDIS_TLS_URL"), var("TEST_REDIS_TLS_CA"))
}

#[tokio::test]
async fn sessions_live_in_a_redis_reached_over_tls() {
    let (url, ca) = tls_redis();
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let bff = Bff::start(&[
        ("REDIS_URL", url.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
        ("BFF__STORE__KEY_PREFIX", prefix.as_str()),
    ])
    .await;
    let ready = bff.client.get(bff.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let session = bff
        .open(
            "maria",
            json!({"product": "mx_employment", "platform": "ios"}),
        )
        .await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    // The long-poll is woken through pub/sub, over TLS too.
    let poll = bff.long_poll("maria", &id, "wait=20");
    let land = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let url = bff.url(&format!("/callbacks/{id}/success?{SUCCESS}"));
        bff.client.get(url).send().await.unwrap().status()
    };
    let ((code, status, elapsed), landed) = tokio::join!(poll, land);
    assert_eq!(landed, 302);
    assert_eq!((code, &status["status"]), (200, &json!("succeeded")));
    assert!(elapsed < Duration::from_secs(5), "woke late: {elapsed:?}");
}

#[test]
fn a_redis_certificate_nobody_trusts_stops_the_start_with_the_reason() {
    let (url, _) = tls_redis();
    let out = Command::new(env!("CARGO_BIN_EXE_belvo-bff"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("REDIS_URL", &url)
        .env("BFF__STORE__TIMEOUT", "1s")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
}
