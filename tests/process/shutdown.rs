//! SIGTERM: readiness goes false first while requests are still served, then the listener
//! closes, long-polls answer at once, in-flight requests finish, and the process exits 0.

use std::time::Duration;

use serde_json::json;

use crate::bff::Bff;

const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";

#[tokio::test]
async fn sigterm_turns_readiness_off_first_and_lets_in_flight_requests_finish() {
    let mut bff = Bff::start(&[("BFF__SERVER__SHUTDOWN_DELAY", "2s")]).await;
    let body = json!({"product": "mx_employment", "platform": "ios"});
    let left_pending = bff.open("maria", body.clone()).await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let completed = bff.open("maria", body).await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ready = bff.client.get(bff.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let (polls_pending, polls_completed) =
        tokio::join!(bff.long_poll("maria", &left_pending, "wait=10"), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            bff.terminate();
            // Readiness is false at once, while everything else is still served.
            let mut readiness = None;
            for _ in 0..20 {
                let response = bff.client.get(bff.url("/readyz")).send().await.unwrap();
                if response.status() == 503 {
                    readiness = Some(response.json::<serde_json::Value>().await.unwrap());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let readiness = readiness.expect("/readyz answers 503 during the drain");
            assert_eq!(readiness["reason"], "shutting down");
            let poll = bff.long_poll("maria", &completed, "wait=10");
            let land = async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let response = bff
                    .client
                    .get(bff.url(&format!("/callbacks/{completed}/success?{SUCCESS}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 302);
            };
            tokio::join!(poll, land).0
        });

    // A long-poll woken by a callback that landed during the delay.
    let (code, status, elapsed) = polls_completed;
    assert_eq!((code, &status["status"]), (200, &json!("succeeded")));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // A long-poll in flight when the listener closed answers then (not after its 10 s).
    let (code, status, elapsed) = polls_pending;
    assert_eq!((code, &status["status"]), (200, &json!("pending")));
    assert!(
        elapsed > Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );

    let exit = bff.exited(Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit:?}");
    let refused = reqwest::get(bff.url("/healthz")).await;
    assert!(refused.is_err(), "nothing listens after the exit");
    let logs = bff.logs().join("\n");
    assert!(logs.contains("shutting down: not ready"), "{logs}");
    assert!(logs.contains("\"stopped\""), "{logs}");
}
