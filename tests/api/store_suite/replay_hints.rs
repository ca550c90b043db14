//! The Redis store's replay hints (docs/store.md): the replay of a callback that changed its
//! session sends Redis only what a replay needs (`replay_event.lua`), and still does after
//! thousands of other sessions finished since, as on a busy server where apps retry a deeplink
//! seconds or minutes later.

use std::time::Duration;

use belvo_bff::domain::callback::CallbackKind;
use belvo_bff::domain::session::Applied;
use belvo_bff::store::Sessions;

use super::{event, new_session};
use crate::helpers::{redis_store_on, unique_prefix};
use crate::own_redis::{info_stat, OwnRedis};

const EXIT: &str = "last_encountered_error_code=login_error&meta_data_step=abandon-survey";
/// Sessions that finish between a callback and its replay.
const OTHERS: usize = 5_000;

#[tokio::test]
async fn a_replay_after_thousands_of_other_sessions_finished_sends_only_what_a_replay_needs() {
    let redis = OwnRedis::start();
    let store = redis_store_on(&redis.url(), &unique_prefix(), Duration::from_secs(3600)).await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let exit = event(CallbackKind::Exit, EXIT);
    // Loads `apply_event.lua`, so the first arrival below is measured without its source.
    let warm = new_session(600_000);
    store.create_session(&warm).await.unwrap();
    store.apply(&warm.id, &exit).await.unwrap();
    let early = new_session(600_000);
    store.create_session(&early).await.unwrap();
    let before = info_stat(&mut conn, "total_net_input_bytes").await;
    let first = store.apply(&early.id, &exit).await.unwrap();
    let first_bytes = info_stat(&mut conn, "total_net_input_bytes").await - before;
    assert!(matches!(first, Applied::Recorded { changed: true, .. }));

    for _ in 0..OTHERS {
        let other = new_session(600_000);
        store.create_session(&other).await.unwrap();
        store.apply(&other.id, &exit).await.unwrap();
    }
    // Its first use on this server loads the script: measured on the second.
    for n in 1..=2 {
        let before = info_stat(&mut conn, "total_net_input_bytes").await;
        let replay = store.apply(&early.id, &exit).await.unwrap();
        let replay_bytes = info_stat(&mut conn, "total_net_input_bytes").await - before;
        assert!(matches!(replay, Applied::Replay { .. }), "{replay:?}");
        if n == 2 {
            assert!(
                replay_bytes * 2 < first_bytes,
                "the replay after {OTHERS} other sessions sent {replay_bytes} bytes, its first \
                 arrival {first_bytes}"
            );
        }
    }
}
