//! Upgrading to the shard key layout (SPEC §13) loses nothing: sessions, links and undelivered
//! events written by a version before shards (keys tagged `{s:<id>}` and `{l:<id>}`, one
//! `outbox` stream) are all found by a replica of this version, on one Redis and on a cluster.

use std::time::{Duration, Instant};

use belvo_bff::domain::ids::{LinkId, SessionId};
use belvo_bff::domain::session::now_millis;
use belvo_bff::store::{Keys, RedisConnection};
use serde_json::{json, Value};

use crate::events::{endpoint, with_endpoints, Receiver};
use crate::helpers::{spawn_app_on, spawn_app_with, StoreKind, TestApp};

const SUCCESS: &str = "link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=planet_mx_employment";

async fn get(app: &TestApp, sub: &str, path: &str) -> Value {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(sub))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// A link made through the API, its resources all ready and its health `needs_reconnect`
/// (so it has a webhook timeline and a health history); returns its id and its view.
async fn broken_link(app: &TestApp, sub: &str) -> (String, Value) {
    let id = app.api_link(sub).await;
    app.emulator_control(&id, "break", json!({"reason": "invalid_credentials"}))
        .await;
    // Every resource the product fetches, not only those whose webhooks came first: a later
    // one would change the link's view after it is taken.
    let product = belvo_bff::domain::ids::ProductName::parse("co_employment").unwrap();
    let fetched = app.settings.products[&product].fetch_resources.clone();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let link = get(app, sub, &format!("/v1/links/{id}")).await;
        let ready = fetched
            .iter()
            .all(|resource| link["resources"][resource.as_str()]["status"] == "ready");
        if ready && link["health"] == "needs_reconnect" {
            return (id, link);
        }
        assert!(Instant::now() < deadline, "still {link}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Moves `new` back to `old` (the name a version before shards gave it), TTL kept.
async fn to_old_name(conn: &mut RedisConnection, new: &str, old: &str) -> bool {
    let dump: Option<Vec<u8>> = redis::cmd("DUMP").arg(new).query_async(conn).await.unwrap();
    let Some(dump) = dump else {
        return false;
    };
    let ttl: i64 = redis::cmd("PTTL").arg(new).query_async(conn).await.unwrap();
    redis::cmd("RESTORE")
        .arg(old)
        .arg(ttl.max(0))
        .arg(dump)
        .query_async::<()>(conn)
        .await
        .unwrap();
    redis::cmd("DEL")
        .arg(new)
        .query_async::<()>(conn)
        .await
        .unwrap();
    true
}

/// Rewrites the session's and the link's keys as a version before shards named them.
async fn downgrade(app: &TestApp, sessions: &[&str], link: &str) -> Vec<String> {
    let (_, prefix) = app.redis.clone().unwrap();
    let keys = Keys::new(&prefix);
    let mut conn = app.redis_conn().await;
    let mut old_keys = Vec::new();
    for id in sessions {
        let sid = SessionId::parse(id).unwrap();
        for (new, suffix) in [
            (keys.session(&sid), "session"),
            (keys.timeline(&sid), "timeline"),
        ] {
            let old = format!("{prefix}:{{s:{id}}}:{suffix}");
            if to_old_name(&mut conn, &new, &old).await {
                old_keys.push(old);
            }
        }
    }
    let lid = LinkId::parse(link).unwrap();
    for (new, suffix) in [
        (keys.link(&lid), "link"),
        (keys.link_timeline(&lid), "timeline"),
        (keys.link_webhook_ids(&lid), "webhook-ids"),
        (keys.link_health_history(&lid), "health-history"),
    ] {
        let old = format!("{prefix}:{{l:{link}}}:{suffix}");
        assert!(to_old_name(&mut conn, &new, &old).await, "{new}");
        old_keys.push(old);
    }
    // The data was never migrated.
    redis::cmd("DEL")
        .arg(keys.layout())
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    old_keys
}

/// Events in the old single stream as `apply_event.lua` wrote them before shards: the first
/// delivered, the second held by a replica that died, the third not handed out yet. Returns
/// the stream ids of the two undelivered ones.
async fn old_outbox(app: &TestApp, group: &str, session: &str) -> Vec<String> {
    let (_, prefix) = app.redis.clone().unwrap();
    let stream = format!("{prefix}:outbox");
    let mut conn = app.redis_conn().await;
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (n, sub) in ["delivered", "held", "waiting"].iter().enumerate() {
        let id: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg(&[
                ("type", "session.exited"),
                ("at", &now_millis().to_string()),
                ("session_id", session),
                ("product", "mx_employment"),
                ("external_id", "u_old"),
                ("link_id", ""),
                ("sub", sub),
                ("institution", ""),
                ("reason", ""),
                ("sequence", &(n + 1).to_string()),
            ])
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.push(id);
    }
    let read = |count: usize| {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg("old-replica")
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">");
        cmd
    };
    read(2)
        .query_async::<redis::Value>(&mut conn)
        .await
        .unwrap();
    redis::cmd("XACK")
        .arg(&stream)
        .arg(group)
        .arg(&ids[0])
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    ids.split_off(1)
}

async fn data_of_the_layout_before_shards_is_all_found_after_the_upgrade(kind: StoreKind) {
    let receiver = Receiver::start(|_| 200);
    let old = spawn_app_on(kind).await;
    let pending = old.open("maria", "mx_employment", "ios").await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let finished = old.open("juan", "mx_employment", "ios").await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        old.callback(&finished, "success", SUCCESS).await.status(),
        302
    );
    let (link, link_view) = broken_link(&old, "ana").await;
    let pending_view = old.status("maria", &pending).await;
    let finished_view = old.status("juan", &finished).await;
    assert_eq!(finished_view["status"], "succeeded");
    let events_before = old.stored_event_count(&finished).await;
    assert!(events_before > 0);

    let old_keys = downgrade(&old, &[&pending, &finished], &link).await;
    let group = belvo_bff::notify::group_name(&receiver.url.parse().unwrap());
    let undelivered = old_outbox(&old, &group, &finished).await;

    // A replica of this version, on the same data, with the endpoint configured.
    let (prefix, url) = (old.settings.store.key_prefix.clone(), receiver.url.clone());
    let new = spawn_app_with(kind, move |s| {
        s.store.key_prefix = prefix;
        with_endpoints(s, vec![endpoint(&url, &["session.*"])]);
    })
    .await;
    assert_eq!(new.status("maria", &pending).await, pending_view);
    assert_eq!(new.status("juan", &finished).await, finished_view);
    assert_eq!(new.stored_event_count(&finished).await, events_before);
    assert_eq!(
        get(&new, "ana", &format!("/v1/links/{link}")).await,
        link_view
    );
    let attention = get(&new, "ana", "/v1/links?health=needs_reconnect").await;
    assert!(attention.to_string().contains(&link), "{attention}");
    let mut conn = new.redis_conn().await;
    for key in &old_keys {
        let left: i64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "{key} moved");
    }

    // The old stream's undelivered events are delivered, with the webhook-ids they had.
    let got = receiver
        .until(Duration::from_secs(20), "the two old events", |d| {
            d.len() >= 2
        })
        .await;
    let mut ids: Vec<String> = got.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    let expected: Vec<String> = undelivered.iter().map(|id| format!("evt_{id}")).collect();
    assert_eq!(ids, expected, "{got:#?}");

    // The pending session goes on: its end is an event of its shard's stream.
    assert_eq!(
        new.callback(&pending, "exit", "meta_data_step=x")
            .await
            .status(),
        302
    );
    let got = receiver
        .until(Duration::from_secs(20), "the new event", |d| d.len() >= 3)
        .await;
    assert_eq!(got[2].json()["data"]["session_id"], pending);
    assert_eq!(got.len(), 3, "{got:#?}");
}

crate::helpers::on_redis_and_cluster!(
    data_of_the_layout_before_shards_is_all_found_after_the_upgrade
);
