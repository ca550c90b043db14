//! `link.resources_ready` (SPEC §13): written once per link, by the webhook that makes the last
//! of its product's fetch resources ready; a webhook replayed afterwards writes nothing more.

use std::time::Duration;

use serde_json::{json, Value};

use crate::events::{endpoint, with_endpoints, Delivery, Receiver};
use crate::helpers::{spawn_app_with, StoreKind};

fn of_type(got: &[Delivery], link: &str, wanted: &str) -> Vec<Value> {
    got.iter()
        .map(Delivery::json)
        .filter(|e| e["data"]["link_id"] == link && e["type"] == wanted)
        .collect()
}

/// `br_employment` fetches EMPLOYMENTS and OWNERS; the emulator sends a `historical_update`
/// for each. One event, once both are ready; a later `historical_update` (Belvo refreshing
/// OWNERS) adds none: the link's deletion, written after it, arrives with still one.
async fn resources_ready_is_announced_once(kind: StoreKind) {
    let receiver = Receiver::start(|_| 200);
    let url = receiver.url.clone();
    let app = spawn_app_with(kind, move |s| {
        with_endpoints(
            s,
            vec![endpoint(&url, &["link.resources_ready", "link.deleted"])],
        )
    })
    .await;
    let (session, link) = app
        .connect("maria", "br_employment", "inss_br_employment")
        .await;
    let wait = Duration::from_secs(15);
    let got = receiver
        .until(wait, "link.resources_ready", |got| {
            !of_type(got, &link, "link.resources_ready").is_empty()
        })
        .await;
    let ready = &of_type(&got, &link, "link.resources_ready")[0];
    assert_eq!(ready["data"]["product"], "br_employment", "{ready}");
    assert_eq!(ready["data"]["sub"], "maria", "{ready}");
    let status = app.status_until_resources("maria", &session).await;
    for resource in ["EMPLOYMENTS", "OWNERS"] {
        assert_eq!(status["resources"][resource]["status"], "ready", "{status}");
    }

    let refreshed = app
        .webhook(&json!({
            "webhook_id": uuid::Uuid::new_v4().simple().to_string(),
            "webhook_type": "OWNERS",
            "process_type": "historical_update",
            "webhook_code": "historical_update",
            "link_id": link,
            "request_id": uuid::Uuid::new_v4().to_string(),
            "data": {"total_owners": 1},
        }))
        .await;
    assert_eq!(refreshed.status(), 200);
    assert_eq!(
        refreshed.json::<Value>().await.unwrap()["status"],
        "recorded"
    );
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/links/{link}")))
        .bearer_auth(app.token("maria"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let got = receiver
        .until(wait, "link.deleted", |got| {
            !of_type(got, &link, "link.deleted").is_empty()
        })
        .await;
    let ready = of_type(&got, &link, "link.resources_ready");
    assert_eq!(ready.len(), 1, "{ready:#?}");
}

#[tokio::test]
async fn resources_ready_is_announced_once_on_redis() {
    resources_ready_is_announced_once(StoreKind::Redis).await;
}

#[tokio::test]
async fn resources_ready_is_announced_once_in_memory() {
    resources_ready_is_announced_once(StoreKind::Memory).await;
}

#[tokio::test]
async fn resources_ready_is_announced_once_on_cluster() {
    resources_ready_is_announced_once(StoreKind::Cluster).await;
}
