//! Long-polls in a process of their own, where `bff_long_polls_waiting` counts exactly this
//! process's waiters: caps on how many wait, and a low soft open-file limit (as many hosts set,
//! 1024 or less) raised to the hard limit so hundreds of waiters do not starve other requests.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::bff::Bff;

/// Waits until exactly `n` long-polls wait in `bff`.
async fn until_waiting(bff: &Bff, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = bff.metric("bff_long_polls_waiting").await;
        if now == n {
            return;
        }
        assert!(Instant::now() < deadline, "{now} long-polls wait, not {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Waiter = tokio::task::JoinHandle<reqwest::Response>;

/// A `?wait=30` long-poll by `sub` on `id`, on a client of its own (as a phone would).
fn long_poll(bff: &Bff, sub: &str, id: &str) -> Waiter {
    let request = reqwest::Client::new()
        .get(bff.url(&format!("/v1/widget-sessions/{id}?wait=30")))
        .bearer_auth(bff.token(sub));
    tokio::spawn(async move { request.send().await.unwrap() })
}

/// A `?wait=1` long-poll that must be answered at once, without waiting: its body.
async fn skipped(bff: &Bff, sub: &str, id: &str) -> Value {
    let response = bff
        .client
        .get(bff.url(&format!("/v1/widget-sessions/{id}?wait=1")))
        .bearer_auth(bff.token(sub))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "a full server still answers 200");
    assert_eq!(response.headers()["x-long-poll"], "skipped");
    response.json().await.unwrap()
}

async fn woken(waiter: Waiter) -> Value {
    let response = waiter.await.unwrap();
    assert!(response.headers().get("x-long-poll").is_none());
    response.json().await.unwrap()
}

#[tokio::test]
async fn past_the_waiting_caps_a_long_poll_answers_at_once_with_the_state() {
    let bff = Bff::start(&[
        ("BFF__LIMITS__MAX_WAITING", "3"),
        ("BFF__LIMITS__MAX_WAITING_PER_USER", "2"),
    ])
    .await;
    let mut ids = Vec::new();
    for sub in ["maria", "ana", "pedro"] {
        let body = json!({"product": "mx_employment", "platform": "ios"});
        ids.push(
            bff.open(sub, body).await["session_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (maria, ana, pedro) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());

    // Two of Maria's and one of Ana's fill the process: Pedro's is answered at once, with his
    // session's state.
    let maria_waiting = [
        long_poll(&bff, "maria", maria),
        long_poll(&bff, "maria", maria),
    ];
    let ana_waiting = long_poll(&bff, "ana", ana);
    until_waiting(&bff, 3).await;
    let body = skipped(&bff, "pedro", pedro).await;
    assert_eq!(
        (body["session_id"].as_str(), body["status"].as_str()),
        (Some(pedro), Some("pending"))
    );

    // Ana's callback wakes her waiter; the process has room again, but Maria has her two.
    let exit = bff.url(&format!(
        "/callbacks/{ana}/exit?meta_data_step=abandon-survey"
    ));
    assert_eq!(bff.client.get(exit).send().await.unwrap().status(), 302);
    assert_eq!(woken(ana_waiting).await["status"], "exited");
    until_waiting(&bff, 2).await;
    assert_eq!(skipped(&bff, "maria", maria).await["session_id"], maria);

    // Maria's waiters are still woken by her callback.
    let success = bff.url(&format!(
        "/callbacks/{maria}/success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment"
    ));
    assert_eq!(bff.client.get(success).send().await.unwrap().status(), 302);
    for waiter in maria_waiting {
        assert_eq!(woken(waiter).await["status"], "succeeded");
    }
}

#[tokio::test]
async fn under_ulimit_256_four_hundred_waiters_leave_healthz_answering() {
    let bff = Bff::start_with_open_file_limit(256, &[]).await;
    let users: Vec<(String, String)> = join_all((0..40).map(|u| {
        let sub = format!("waiter-{u}");
        let bff = &bff;
        async move {
            let body = json!({"product": "mx_employment", "platform": "ios"});
            let id = bff.open(&sub, body).await["session_id"]
                .as_str()
                .unwrap()
                .to_owned();
            (bff.token(&sub), id)
        }
    }))
    .await;
    // Ten long-polls per user, each on a connection of its own.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let polls: Vec<_> = users
        .iter()
        .flat_map(|(token, id)| {
            let request = client
                .get(bff.url(&format!("/v1/widget-sessions/{id}?wait=30")))
                .bearer_auth(token);
            (0..10).map(move |_| request.try_clone().unwrap().send())
        })
        .collect();
    let polls = tokio::spawn(join_all(polls));

    until_waiting(&bff, 400).await;
    let health = bff.client.get(bff.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let (token, id) = &users[0];
    let read = bff
        .client
        .get(bff.url(&format!("/v1/widget-sessions/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "a plain status read is answered too");
    // Every waiter is answered: woken by its session's callback.
    for (_, id) in &users {
        let exit = bff.url(&format!(
            "/callbacks/{id}/exit?meta_data_step=abandon-survey"
        ));
        assert_eq!(bff.client.get(exit).send().await.unwrap().status(), 302);
    }
    let answered = polls.await.unwrap();
    assert_eq!(answered.len(), 400);
    for response in answered {
        let response = response.expect("every waiter is answered");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "exited");
    }
    let opened = bff
        .logs()
        .into_iter()
        .find(|l| l.contains("open-file limit"))
        .expect("the limits are logged");
    assert!(opened.contains("\"before\":256"), "{opened}");
}
