//! The demo's own receiver (embedded mode, `/demo/events`): the server sends its events to it,
//! signed with a secret made at start; it lists those that verify and refuses the rest with 401.

use super::*;

async fn demo_page(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/demo/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// A delivery signed with `secret` (not the server's), as a forger would send it.
async fn post_signed(app: &TestApp, secret: &str, body: &str) -> reqwest::Response {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = standardwebhooks::Webhook::new(secret)
        .unwrap()
        .sign("evt_forged", now, body.as_bytes())
        .unwrap();
    app.client
        .post(app.url("/demo/events"))
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// `cargo run` with no configuration is the memory store; a deployment's demo runs on Redis.
#[tokio::test]
async fn the_demo_receiver_lists_verified_events_in_memory() {
    a_finished_session_shows_and_a_forged_one_is_refused(StoreKind::Memory).await;
}

#[tokio::test]
async fn the_demo_receiver_lists_verified_events_on_redis() {
    a_finished_session_shows_and_a_forged_one_is_refused(StoreKind::Redis).await;
}

async fn a_finished_session_shows_and_a_forged_one_is_refused(kind: StoreKind) {
    let app = spawn_app_with(kind, |s| s.notify.demo_receiver = true).await;
    assert!(demo_page(&app).await.contains("No event yet"));
    let id = finish(&app, "maria", "success", SUCCESS).await;
    let page = eventually(
        Duration::from_secs(10),
        "the event on /demo/events",
        || async {
            let page = demo_page(&app).await;
            page.contains(&id).then_some(page)
        },
    )
    .await;
    assert!(page.contains("session.succeeded"), "{page}");
    assert!(page.contains("✓"), "{page}");

    let forged = r#"{"type":"session.failed","timestamp":"2026-01-01T00:00:00Z","data":{"session_id":"forged-session","sequence":1}}"#;
    let response = post_signed(&app, SECRET, forged).await;
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unauthorized");
    let unsigned = app
        .client
        .post(app.url("/demo/events"))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    let page = demo_page(&app).await;
    assert!(!page.contains("forged-session"), "{page}");
    assert!(page.contains(r#"<span id="refused">2</span>"#), "{page}");
}
