//! Hundreds of duplicate, reordered and concurrent callbacks and webhooks for one session:
//! exactly one terminal state, each distinct event counted once.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{param, spawn_app, LINK_ID};

#[tokio::test]
async fn hundreds_of_concurrent_callbacks_leave_exactly_one_terminal_state() {
    let app = spawn_app().await;
    let session = app.open("maria", "mx_employment", "ios").await;
    let id = session["session_id"].as_str().unwrap().to_owned();
    let queries: Vec<(&str, String)> = (0..300)
        .map(|i| match i % 5 {
            0 => (
                "success",
                format!("link={LINK_ID}&institution=planet_mx_employment"),
            ),
            1 => ("exit", format!("meta_data_step=step-{}", i % 7)),
            2 => ("event", format!("error=code_{}", i % 3)),
            3 => ("warning", "warning=institution_disabled".to_owned()),
            _ => ("exit", "last_encountered_error_code=login_error".to_owned()),
        })
        .collect();
    let responses = join_all(queries.iter().map(|(kind, q)| app.callback(&id, kind, q))).await;
    assert!(responses.iter().all(|r| r.status() == 302));

    let statuses: Vec<String> = responses
        .iter()
        .map(|r| {
            param(
                &crate::helpers::location(r).replace("bffdemo://", "http://x/"),
                "status",
            )
            .unwrap()
        })
        .collect();
    let final_status = app.status("maria", &id).await["status"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(final_status, "pending");
    // Every answer after the winner reports the same terminal status.
    assert!(
        statuses
            .iter()
            .all(|s| s == "pending" || *s == final_status),
        "{statuses:?}"
    );

    let mut conn = app.redis_conn().await;
    let timeline: Vec<String> = redis::cmd("LRANGE")
        .arg(app.timeline_key(&id))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let events: Vec<Value> = timeline
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let applied_terminal = events
        .iter()
        .filter(|e| e["effect"] == "applied" && e["kind"] != "warning")
        .count();
    assert_eq!(applied_terminal, 1, "exactly one terminal event applied");
    // Distinct events: 1 success + 7 exit steps + 3 errors + 1 warning + 1 login_error exit.
    assert_eq!(events.len(), 13, "each distinct event once");
}

#[tokio::test]
async fn concurrent_duplicate_webhooks_count_once() {
    let app = spawn_app().await;
    let (id, link) = app
        .connect("maria", "br_employment", "inss_br_employment")
        .await;
    app.status_until_resources("maria", &id).await;
    let session = app.open("maria", "br_employment", "ios").await;
    let widget = app
        .belvo_widget(session["widget_url"].as_str().unwrap())
        .await;
    let owner = param(&widget, "external_id").unwrap();
    let bodies: Vec<Value> = (0..200)
        .map(|i| {
            json!({"webhook_id": format!("dup-{}", i % 4), "webhook_type": "EMPLOYMENTS",
                "webhook_code": "historical_update", "link_id": link, "external_id": owner,
                "data": {"total_employments": 10 + i % 4}})
        })
        .collect();
    let responses = join_all(bodies.iter().map(|b| app.webhook(b))).await;
    let mut recorded = 0;
    for r in responses {
        assert_eq!(r.status(), 200);
        if r.json::<Value>().await.unwrap()["status"] == "recorded" {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 4, "four distinct webhook ids");
    let total = app.status("maria", &id).await["resources"]["EMPLOYMENTS"]["total"]
        .as_u64()
        .unwrap();
    assert!((10..14).contains(&total));
}
