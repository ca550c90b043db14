use std::time::Duration;

use belvo_bff::domain::ids::LinkId;
use belvo_bff::domain::session::Applied;
use belvo_bff::store::{Keys, Links, Sessions};

use super::{new_session, success, LINK};
use crate::helpers::{test_redis_cluster_urls, unique_prefix};

#[tokio::test]
async fn a_replayed_success_claims_a_link_whose_second_step_was_lost() {
    let prefix = unique_prefix();
    let store = crate::helpers::cluster_store_with(&prefix, Duration::from_secs(600)).await;
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    store.apply(&session.id, &success()).await.unwrap();
    let link = LinkId::parse(LINK).unwrap();
    // As if the second step had failed after the first one applied.
    let (mut conn, _) = belvo_bff::store::RedisConnection::cluster(
        &test_redis_cluster_urls(),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(Keys::new(&prefix).link(&link))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(store.link(&link).await.unwrap(), None);

    let replay = store.apply(&session.id, &success()).await.unwrap();
    assert!(matches!(replay, Applied::Replay { .. }), "{replay:?}");
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.session, Some(session.id));
    assert_eq!(state.owner, Some(session.owner));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(Keys::new(&prefix).link(&link))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "the claimed link expires with its session: {ttl}");
}
