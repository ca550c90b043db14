//! Attempt counters, on every store.

use super::*;

async fn attempts_are_counted_in_a_window(store: DynStore) {
    let subject = format!("subject-{}", uuid::Uuid::new_v4().simple());
    let window = Duration::from_millis(400);
    for expected in 1..=3 {
        let (count, left) = store.count_attempt(&subject, window).await.unwrap();
        assert_eq!(count, expected);
        assert!(left <= window && left > Duration::ZERO);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        store.count_attempt(&subject, window).await.unwrap().0,
        1,
        "a new window"
    );
}

async fn token_requests_and_distinct_ids_are_counted_per_user(store: DynStore) {
    let user = ExternalId::parse(&format!("u_{}", uuid::Uuid::new_v4().simple())).unwrap();
    let (short, long) = (Duration::from_millis(400), Duration::from_secs(60));
    for expected in 1..=3 {
        let [(a, a_left), (b, b_left)] = store
            .count_token_request(&user, [short, long])
            .await
            .unwrap();
        assert_eq!((a, b), (expected, expected));
        assert!(a_left <= short && b_left > short && b_left <= long);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let [(a, _), (b, _)] = store
        .count_token_request(&user, [short, long])
        .await
        .unwrap();
    assert_eq!(
        (a, b),
        (1, 4),
        "the short window starts again, the long one goes on"
    );

    let subject = format!("ids-{user}");
    for id in ["one", "two", "one"] {
        assert!(
            store.count_distinct(&subject, id, long, 2).await.unwrap().0,
            "{id}"
        );
    }
    let (allowed, left) = store
        .count_distinct(&subject, "three", long, 2)
        .await
        .unwrap();
    assert!(!allowed, "a third distinct id is refused");
    assert!(left > Duration::ZERO && left <= long);
    assert!(
        store
            .count_distinct(&subject, "two", long, 2)
            .await
            .unwrap()
            .0
    );
}

async fn attempts_read_back_without_counting(store: DynStore) {
    let window = Duration::from_secs(60);
    assert_eq!(store.attempts("who").await.unwrap().0, 0);
    store.count_attempt("who", window).await.unwrap();
    store.count_attempt("who", window).await.unwrap();
    let (count, left) = store.attempts("who").await.unwrap();
    assert_eq!(count, 2);
    assert!(left > Duration::from_secs(50) && left <= window);
    assert_eq!(
        store.attempts("who").await.unwrap().0,
        2,
        "reading does not count"
    );
    store.release_attempt("who").await.unwrap();
    let (count, left) = store.attempts("who").await.unwrap();
    assert_eq!(count, 1, "a released attempt no longer counts");
    assert!(left > Duration::from_secs(50), "the window keeps its end");
    store.release_attempt("nobody").await.unwrap();
    assert_eq!(
        store.attempts("nobody").await.unwrap(),
        (0, Duration::ZERO),
        "releasing nothing makes nothing"
    );
}

every_store!(
    attempts_are_counted_in_a_window,
    token_requests_and_distinct_ids_are_counted_per_user,
    attempts_read_back_without_counting,
);
