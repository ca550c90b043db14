//! `?wait=` long-polls wake up when the session leaves `pending`, from any replica.

use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_on, spawn_settings, StoreKind, TestApp};

const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";

async fn wait_status(app: &TestApp, id: &str, wait: u32) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let response = app
        .client
        .get(app.url(&format!("/v1/widget-sessions/{id}?wait={wait}")))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    (response.json().await.unwrap(), started.elapsed())
}

async fn wait_returns_as_soon_as_the_callback_lands(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let poll = wait_status(&app, &id, 20);
    let land = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.callback(&id, "success", SUCCESS).await
    };
    let ((status, elapsed), response) = tokio::join!(poll, land);
    assert_eq!(response.status(), 302);
    assert_eq!(status["status"], "succeeded");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "woke late: {elapsed:?}");
}

async fn wait_gives_up_after_the_requested_time_with_pending(store: StoreKind) {
    let app = spawn_app_on(store).await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap();
    let (status, elapsed) = wait_status(&app, id, 1).await;
    assert_eq!(status["status"], "pending");
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

async fn a_callback_on_one_replica_wakes_a_poll_on_another(store: StoreKind) {
    let first = spawn_app_on(store).await;
    // Same Redis and key prefix: two replicas of one deployment.
    let second = spawn_settings(first.settings.clone()).await;
    let session = first.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let poll = wait_status(&first, &id, 20);
    let land = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        second.callback(&id, "success", SUCCESS).await
    };
    let ((status, elapsed), response) = tokio::join!(poll, land);
    assert_eq!(response.status(), 302);
    assert_eq!(status["status"], "succeeded");
    assert!(elapsed < Duration::from_secs(5), "woke late: {elapsed:?}");
}

crate::helpers::on_redis_and_cluster!(
    wait_returns_as_soon_as_the_callback_lands,
    wait_gives_up_after_the_requested_time_with_pending,
    a_callback_on_one_replica_wakes_a_poll_on_another,
);
