//! Deliveries for admins (SPEC §13): a receiver answering 500 forever makes its event dead, an
//! admin sees it with its last answer (API and `/admin/deliveries`) and replays it, and the
//! receiver gets it with the same `webhook-id`; only admins, only with the console's CSRF token.

use std::sync::atomic::{AtomicBool, Ordering};

use belvo_bff::auth::Role;

use super::*;
use crate::console_helpers::{csrf_of, with_staff, ADMIN, SUPPORT};

async fn deliveries(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/v1/admin/deliveries{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn replay(app: &TestApp, token: &str, id: &str) -> u16 {
    app.client
        .post(app.url(&format!("/v1/admin/deliveries/{id}/replay")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A receiver answering 500 until `fixed`, then 200.
fn broken_receiver() -> (Receiver, Arc<AtomicBool>) {
    let fixed = Arc::new(AtomicBool::new(false));
    let answer = fixed.clone();
    let receiver = Receiver::start(move |_| {
        if answer.load(Ordering::SeqCst) {
            200
        } else {
            500
        }
    });
    (receiver, fixed)
}

async fn spawn_dying(kind: StoreKind, receiver: &Receiver) -> TestApp {
    let url = receiver.url.clone();
    spawn_app_with(kind, move |s| {
        with_endpoints(s, vec![endpoint(&url, &["session.*"])]);
        s.notify.max_age = Duration::from_secs(2);
        with_staff(s);
    })
    .await
}

/// Waits until the API lists `n` dead deliveries; returns them.
async fn until_dead(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(20), "dead deliveries", || async {
        let (status, body) = deliveries(app, token, "?status=dead").await;
        assert_eq!(status, 200, "{body}");
        let dead = body["deliveries"].as_array().unwrap().clone();
        (dead.len() >= n).then_some(dead)
    })
    .await
}

async fn a_dead_event_is_replayed_by_an_admin_and_delivered(kind: StoreKind) {
    let (receiver, fixed) = broken_receiver();
    let app = spawn_dying(kind, &receiver).await;
    let admin = app.staff_token("ops", Role::Admin);
    let session = finish(&app, "maria", "exit", EXIT).await;
    let dead = until_dead(&app, &admin, 1).await;
    assert_eq!(dead.len(), 1, "{dead:#?}");
    let d = &dead[0];
    assert_eq!(d["status"], "dead");
    assert_eq!(d["type"], "session.exited");
    assert_eq!(d["session_id"], session.as_str());
    assert_eq!(d["last_answer"], "HTTP 500");
    assert_eq!(d["endpoint"], receiver.url.as_str());
    let tried = receiver.deliveries();
    assert_eq!(d["attempts"], tried.len() as u64, "{tried:#?}");
    assert_eq!(d["webhook_id"], tried[0].id.as_str());

    // Only admins; unknown statuses and ids are 4xx.
    let support = app.staff_token("sofia", Role::Support);
    assert_eq!(deliveries(&app, &support, "").await.0, 403);
    assert_eq!(replay(&app, &support, d["id"].as_str().unwrap()).await, 403);
    assert_eq!(deliveries(&app, &admin, "?status=lost").await.0, 400);
    for bogus in ["nope", "1-2-3", "0-1", "99999999999999999999-1"] {
        assert_eq!(replay(&app, &admin, bogus).await, 404, "{bogus}");
    }

    fixed.store(true, Ordering::SeqCst);
    let before = receiver.deliveries().len();
    assert_eq!(replay(&app, &admin, d["id"].as_str().unwrap()).await, 200);
    assert_eq!(
        replay(&app, &admin, d["id"].as_str().unwrap()).await,
        404,
        "once"
    );
    let got = receiver
        .until(Duration::from_secs(10), "the replayed event", |got| {
            got.len() > before
        })
        .await;
    let replayed = &got[before];
    assert_eq!(
        replayed.id,
        d["webhook_id"].as_str().unwrap(),
        "same webhook-id"
    );
    assert_eq!(replayed.json()["data"]["session_id"], session.as_str());
    assert_eq!(replayed.body, got[0].body, "the same event");
    verify_in_rust(replayed);
    eventually(Duration::from_secs(10), "nothing left", || async {
        let (_, body) = deliveries(&app, &admin, "").await;
        body["deliveries"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_dead_event_is_replayed_by_an_admin_and_delivered_on_redis() {
    a_dead_event_is_replayed_by_an_admin_and_delivered(StoreKind::Redis).await;
}

/// On a cluster: the dead delivery's id names its shard's stream, and the replay goes back
/// into that stream (one slot with its dead stream).
#[tokio::test]
async fn a_dead_event_is_replayed_by_an_admin_and_delivered_on_cluster() {
    a_dead_event_is_replayed_by_an_admin_and_delivered(StoreKind::Cluster).await;
}

#[tokio::test]
async fn a_dead_event_is_replayed_by_an_admin_and_delivered_in_memory() {
    a_dead_event_is_replayed_by_an_admin_and_delivered(StoreKind::Memory).await;
}

/// The page lists dead deliveries and replays them all with its form; a form without the
/// session's CSRF token is refused.
#[tokio::test]
async fn the_deliveries_page_replays_every_dead_event_with_its_form() {
    let (receiver, fixed) = broken_receiver();
    let app = spawn_dying(StoreKind::Redis, &receiver).await;
    let admin = app.staff_token("ops", Role::Admin);
    finish(&app, "maria", "exit", EXIT).await;
    finish(&app, "juan", "event", ERROR).await;
    until_dead(&app, &admin, 2).await;

    let support = app.signed_in(SUPPORT).await;
    assert_eq!(app.page(&support, "/admin/deliveries").await.0, 403);
    let client = app.signed_in(ADMIN).await;
    let (status, html) = app.page(&client, "/admin/deliveries").await;
    assert_eq!(status, 200);
    assert!(html.contains("session.exited") && html.contains("session.failed"));
    assert!(html.contains("HTTP 500"));
    let forged = client
        .post(app.url("/admin/deliveries/replay-dead"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        until_dead(&app, &admin, 2).await.len(),
        2,
        "nothing replayed"
    );

    fixed.store(true, Ordering::SeqCst);
    let before = receiver.deliveries().len();
    let replayed = client
        .post(app.url("/admin/deliveries/replay-dead"))
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 303);
    let location = replayed.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/admin/deliveries?replayed=2");
    let (_, html) = app.page(&client, &location).await;
    assert!(html.contains("Replayed 2 deliveries"), "{html}");
    receiver
        .until(Duration::from_secs(10), "both replayed", |got| {
            got.len() >= before + 2
        })
        .await;
}
