//! Two replicas — separate processes on their own ports — sharing nothing but Redis, behind a
//! load balancer that sends each request wherever it likes.

use std::time::Duration;

use serde_json::json;

use crate::bff::{location, widget_outcome, Bff};

fn test_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").expect(
        "TEST_REDIS_URL is not set: run scripts/test.sh, which starts a redis-server for the tests",
    )
}

#[tokio::test]
async fn a_session_opened_on_one_replica_is_completed_on_the_other_and_wakes_the_first() {
    let redis = test_redis_url();
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let shared = [
        ("REDIS_URL", redis.as_str()),
        ("BFF__STORE__KEY_PREFIX", prefix.as_str()),
        ("BFF__EMULATOR__WEBHOOK_DELAY", "50ms"),
    ];
    let first = Bff::start(&shared).await;
    // Both replicas talk to one Belvo: the emulator embedded in the first.
    let belvo = first.url("/emulator");
    let widget = first.url("/emulator/widget/");
    let mut env = shared.to_vec();
    env.extend([
        ("BFF__BELVO__BASE_URL", belvo.as_str()),
        ("BFF__BELVO__WIDGET_URL", widget.as_str()),
    ]);
    let second = Bff::start(&env).await;
    assert_ne!(first.address, second.address);

    let session = first
        .open(
            "maria",
            json!({"product": "mx_employment", "platform": "ios"}),
        )
        .await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let widget_url = session["widget_url"].as_str().unwrap();

    let poll = first.long_poll("maria", &id, "wait=20");
    let land = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let callback = widget_outcome(&first, widget_url, "success", "planet_mx_employment").await;
        // The load balancer sends the widget's redirect to the other replica.
        let callback = callback.replacen(&first.address, &second.address, 1);
        assert!(callback.starts_with(&second.address), "{callback}");
        let response = second.client.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), 302);
        assert!(location(&response).starts_with("bffdemo://belvo/success?"));
    };
    let ((code, status, elapsed), ()) = tokio::join!(poll, land);
    assert_eq!(code, 200);
    assert_eq!(status["status"], "succeeded");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(5),
        "woke late: {elapsed:?}"
    );

    // The webhooks Belvo sends to the first replica and the link check the second one ran
    // meet in Redis; either replica shows the result.
    let (code, on_second, _) = second
        .long_poll("maria", &id, "wait=20&until=resources")
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        on_second["resources"]["EMPLOYMENT_RECORDS"]["status"],
        "ready"
    );
    for _ in 0..50 {
        let (_, on_first, _) = first.long_poll("maria", &id, "").await;
        if !on_first["link_verified"].is_null() {
            assert_eq!(on_first["link_verified"], true);
            assert_eq!(on_first["link_id"], on_second["link_id"]);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the link was never verified");
}
