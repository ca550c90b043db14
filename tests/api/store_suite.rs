//! One suite, three stores: in-memory, one Redis and a Redis Cluster must behave the same.

use std::sync::Arc;
use std::time::Duration;

use belvo_bff::domain::callback::{CallbackEvent, CallbackKind};
use belvo_bff::domain::external_id::ExternalId;
use belvo_bff::domain::ids::{AccessMode, LinkId, Platform, ProductName, SessionId};
use belvo_bff::domain::session::{
    now_millis, Applied, NewSession, Status, Transition, LINK_OWNED_ELSEWHERE,
    LINK_OWNED_ELSEWHERE_MESSAGE,
};
use belvo_bff::domain::webhook::{
    LinkClaim, WebhookApplied, WebhookPayload, WebhookUpdate, MAX_WEBHOOK_IDS,
};
use belvo_bff::store::{Durability, DynStore, Keys, MemoryStore, RedisStore, Retention};

use crate::helpers::{test_redis_cluster_urls, test_redis_url, unique_prefix};

async fn redis_store(ttl: Duration) -> DynStore {
    let store = RedisStore::connect(
        &test_redis_url(),
        Keys::new(&unique_prefix()),
        Retention { session_ttl: ttl },
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    Arc::new(store)
}

/// A store on the test Redis with the given key prefix (to look at its keys).
async fn redis_store_with(prefix: &str) -> RedisStore {
    RedisStore::connect(
        &test_redis_url(),
        Keys::new(prefix),
        Retention {
            session_ttl: Duration::from_secs(600),
        },
        Duration::from_secs(2),
    )
    .await
    .unwrap()
}

async fn cluster_store(ttl: Duration) -> DynStore {
    Arc::new(cluster_redis_store(&unique_prefix(), ttl).await)
}

async fn cluster_redis_store(prefix: &str, ttl: Duration) -> RedisStore {
    RedisStore::connect_cluster(
        &test_redis_cluster_urls(),
        Keys::new(prefix),
        Retention { session_ttl: ttl },
        Durability::default(),
        Duration::from_secs(2),
    )
    .await
    .unwrap()
}

fn memory_store(ttl: Duration) -> DynStore {
    Arc::new(MemoryStore::new(Retention { session_ttl: ttl }))
}

fn new_session(deadline_in_ms: i64) -> NewSession {
    let now = now_millis();
    NewSession {
        id: SessionId::generate(),
        owner: ExternalId::parse("u_owner").unwrap(),
        product: ProductName::parse("mx_employment").unwrap(),
        platform: Platform::Android,
        institutions: vec!["imss_mx_employment".into(), "issste_mx_employment".into()],
        access_mode: AccessMode::Single,
        created_at: now,
        token_expires_at: now + 600_000,
        deadline: now + deadline_in_ms,
    }
}

fn event(kind: CallbackKind, query: &str) -> Transition {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let event = CallbackEvent::parse(kind, &pairs).unwrap();
    Transition::new(&event, "test", now_millis())
}

const LINK: &str = "cb65f82c-dc93-4d3e-8270-9a27528397f5";

fn success() -> Transition {
    event(
        CallbackKind::Success,
        &format!("link={LINK}&institution=imss_mx_employment"),
    )
}

async fn round_trips_a_session(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.record, session);
    assert_eq!(read.stored_status, Status::Pending);
    assert_eq!(read.event_count, 0);
    assert!(store
        .session(&SessionId::generate())
        .await
        .unwrap()
        .is_none());
}

async fn first_terminal_event_wins(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let applied = store.apply(&session.id, &success()).await.unwrap();
    assert_eq!(
        applied,
        Applied::Recorded {
            status: Status::Succeeded,
            platform: Platform::Android,
            changed: true
        }
    );
    let exit = event(
        CallbackKind::Exit,
        "last_encountered_error_code=login_error",
    );
    let applied = store.apply(&session.id, &exit).await.unwrap();
    assert_eq!(
        applied,
        Applied::Recorded {
            status: Status::Succeeded,
            platform: Platform::Android,
            changed: false
        }
    );
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Succeeded);
    assert_eq!(read.link_id, LinkId::parse(LINK).ok());
    assert_eq!(read.last_error, None);
    let timeline = store.timeline(&session.id).await.unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0]["kind"], "success");
    assert_eq!(timeline[0]["effect"], "applied");
    assert_eq!(timeline[1]["kind"], "exit");
    assert_eq!(timeline[1]["effect"], "ignored");
    let link = store
        .link(&LinkId::parse(LINK).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.session, Some(session.id));
    assert_eq!(link.owner, Some(session.owner.clone()));
}

async fn replays_count_once(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let warning = event(CallbackKind::Warning, "warning=institution_disabled");
    assert!(matches!(
        store.apply(&session.id, &warning).await.unwrap(),
        Applied::Recorded { changed: true, .. }
    ));
    for _ in 0..3 {
        assert_eq!(
            store.apply(&session.id, &warning).await.unwrap(),
            Applied::Replay {
                status: Status::Pending,
                platform: Platform::Android
            }
        );
    }
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.warnings.len(), 1);
    assert_eq!(read.replays, 3);
    assert_eq!(store.timeline(&session.id).await.unwrap().len(), 1);
}

async fn concurrent_terminal_events_leave_exactly_one_outcome(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let id = session.id;
        tasks.push(tokio::spawn(async move {
            let t = match i % 3 {
                0 => success(),
                1 => event(CallbackKind::Exit, &format!("meta_data_step=step{i}")),
                _ => event(CallbackKind::Error, &format!("error=code{i}")),
            };
            store.apply(&id, &t).await.unwrap()
        }));
    }
    let mut changed = 0;
    for task in tasks {
        if let Applied::Recorded { changed: true, .. } = task.await.unwrap() {
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "exactly one terminal event applies");
    let timeline = store.timeline(&session.id).await.unwrap();
    assert_eq!(
        timeline.iter().filter(|e| e["effect"] == "applied").count(),
        1
    );
}

async fn missing_and_expired_sessions_record_nothing(store: DynStore) {
    assert_eq!(
        store
            .apply(&SessionId::generate(), &success())
            .await
            .unwrap(),
        Applied::Missing
    );
    let session = new_session(-1);
    store.create_session(&session).await.unwrap();
    assert_eq!(
        store.apply(&session.id, &success()).await.unwrap(),
        Applied::Expired
    );
    assert!(store.timeline(&session.id).await.unwrap().is_empty());
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.status_at(now_millis()), Status::Expired);
}

async fn records_expire_after_their_ttl(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    store.apply(&session.id, &success()).await.unwrap();
    assert!(store.session(&session.id).await.unwrap().is_some());
    let read = store.session_with_link(&session.id).await.unwrap().unwrap();
    assert!(read.link.is_some());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(store.session(&session.id).await.unwrap().is_none());
    // Also when the store remembers which link the session named.
    assert!(store
        .session_with_link(&session.id)
        .await
        .unwrap()
        .is_none());
    assert!(store.timeline(&session.id).await.unwrap().is_empty());
    assert_eq!(
        store.link(&LinkId::parse(LINK).unwrap()).await.unwrap(),
        None
    );
}

async fn changes_are_announced(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let mut changes = store.subscribe();
    // Give the pub/sub subscription a moment on a fresh Redis store.
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.apply(&session.id, &success()).await.unwrap();
    let announced = tokio::time::timeout(Duration::from_secs(3), changes.recv())
        .await
        .expect("announced in time")
        .unwrap();
    assert_eq!(announced, session.id);
}

async fn warnings_are_bounded(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    for i in 0..80 {
        store
            .apply(
                &session.id,
                &event(CallbackKind::Warning, &format!("warning=w{i}")),
            )
            .await
            .unwrap();
    }
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(
        read.warnings.len(),
        belvo_bff::domain::session::MAX_WARNINGS
    );
    assert_eq!(read.stored_status, Status::Pending);
    // A terminal event still applies once the lists are full.
    store.apply(&session.id, &success()).await.unwrap();
    let read = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(read.stored_status, Status::Succeeded);
}

async fn sessions_and_links_are_indexed_by_user(store: DynStore) {
    let owner = ExternalId::parse(&format!("u_{}", uuid::Uuid::new_v4().simple())).unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut session = new_session(60_000);
        session.owner = owner.clone();
        session.created_at += i;
        store.create_session(&session).await.unwrap();
        ids.push(session.id);
    }
    ids.reverse();
    assert_eq!(
        store.user_sessions(&owner, 10).await.unwrap(),
        ids,
        "newest first"
    );
    assert_eq!(store.user_sessions(&owner, 2).await.unwrap(), ids[..2]);

    let link = LinkId::new_random();
    let claim = |owner: &ExternalId| LinkClaim {
        owner: owner.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
    };
    assert!(store.claim_link(&link, &claim(&owner)).await.unwrap());
    let someone = ExternalId::parse("u_someone").unwrap();
    assert!(!store.claim_link(&link, &claim(&someone)).await.unwrap());
    assert_eq!(store.user_links(&owner).await.unwrap(), vec![link]);
    assert!(store.user_links(&someone).await.unwrap().is_empty());
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.owner, Some(owner), "the first claim owns the link");
    assert_eq!(state.verified, Some(true));
    assert_eq!(state.institution.as_deref(), Some("imss_mx_employment"));
}

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

fn webhook(link: &LinkId, webhook_id: &str, external_id: &str) -> WebhookUpdate {
    let payload: WebhookPayload = serde_json::from_value(serde_json::json!({
        "webhook_id": webhook_id,
        "webhook_type": "EMPLOYMENT_RECORDS",
        "webhook_code": "historical_update",
        "process_type": "historical_update",
        "link_id": link.to_string(),
        "external_id": external_id,
        "data": {"total_employment_record_profiles": 2},
    }))
    .unwrap();
    payload.into_update(now_millis()).unwrap()
}

async fn a_webhook_before_or_after_the_success_ends_the_same(store: DynStore) {
    for webhook_first in [true, false] {
        let session = new_session(60_000);
        let link = LinkId::new_random();
        let success = event(
            CallbackKind::Success,
            &format!("link={link}&institution=imss_mx_employment"),
        );
        let update = webhook(&link, &format!("w-{webhook_first}"), "u_owner");
        store.create_session(&session).await.unwrap();
        if webhook_first {
            let applied = store.record_webhook(&update).await.unwrap();
            assert_eq!(applied, WebhookApplied::Recorded { session: None });
            store.apply(&session.id, &success).await.unwrap();
        } else {
            store.apply(&session.id, &success).await.unwrap();
            let applied = store.record_webhook(&update).await.unwrap();
            assert_eq!(
                applied,
                WebhookApplied::Recorded {
                    session: Some(session.id)
                }
            );
        }
        assert_eq!(
            store.record_webhook(&update).await.unwrap(),
            WebhookApplied::Duplicate
        );
        let state = store.link(&link).await.unwrap().unwrap();
        assert_eq!(
            state.session,
            Some(session.id),
            "webhook first: {webhook_first}"
        );
        assert_eq!(state.owner, Some(session.owner.clone()));
        assert_eq!(state.resources["EMPLOYMENT_RECORDS"].total, Some(2));
        assert!(state.external_id_consistent());
        assert_eq!(store.link_timeline(&link).await.unwrap().len(), 1);
    }
}

async fn a_session_is_read_with_its_link_as_it_is_now(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    assert!(store
        .session_with_link(&SessionId::generate())
        .await
        .unwrap()
        .is_none());
    let read = store.session_with_link(&session.id).await.unwrap().unwrap();
    assert_eq!(read.session.record, session);
    assert_eq!(read.link, None);

    let link = LinkId::new_random();
    let success = event(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    store.apply(&session.id, &success).await.unwrap();
    // Read repeatedly, with webhooks in between: every read shows the link as it is then.
    for n in 0..3u64 {
        let read = store.session_with_link(&session.id).await.unwrap().unwrap();
        assert_eq!(read.session.stored_status, Status::Succeeded);
        assert_eq!(read.session.link_id, Some(link));
        let state = read.link.expect("the link is read with its session");
        assert_eq!(state.session, Some(session.id));
        let total = state
            .resources
            .get("EMPLOYMENT_RECORDS")
            .and_then(|r| r.total);
        assert_eq!(total, (n > 0).then_some(n + 1), "after {n} webhooks");
        let mut update = webhook(&link, &format!("w-{n}"), "u_owner");
        update.resource.as_mut().unwrap().1.total = Some(n + 2);
        store.record_webhook(&update).await.unwrap();
    }
}

async fn a_link_remembers_its_latest_webhook_ids(store: DynStore) {
    let link = LinkId::new_random();
    let delivery = |n: usize| webhook(&link, &format!("w-{n}"), "u_owner");
    for n in 0..=MAX_WEBHOOK_IDS {
        let applied = store.record_webhook(&delivery(n)).await.unwrap();
        assert_eq!(applied, WebhookApplied::Recorded { session: None });
    }
    // A repeat of a recent delivery changes nothing.
    let repeat = store
        .record_webhook(&delivery(MAX_WEBHOOK_IDS))
        .await
        .unwrap();
    assert_eq!(repeat, WebhookApplied::Duplicate);
    // The oldest id is past the bound: forgotten, so its memory does not grow with the link's age.
    let oldest = store.record_webhook(&delivery(0)).await.unwrap();
    assert_eq!(oldest, WebhookApplied::Recorded { session: None });
}

/// Returns once announcements reach `changes` (a Redis subscription starts in the background):
/// records warnings on a session of its own until one is announced.
async fn until_subscribed(
    store: &DynStore,
    changes: &mut tokio::sync::broadcast::Receiver<SessionId>,
) {
    let probe = new_session(60_000);
    store.create_session(&probe).await.unwrap();
    for n in 0..100 {
        let warning = event(CallbackKind::Warning, &format!("warning=probe_{n}"));
        store.apply(&probe.id, &warning).await.unwrap();
        let heard = async { while changes.recv().await.unwrap() != probe.id {} };
        if tokio::time::timeout(Duration::from_millis(100), heard)
            .await
            .is_ok()
        {
            return;
        }
    }
    panic!("no announcement ever arrived");
}

/// Whether `id` is announced on `changes` within 5 s (other announcements are skipped).
async fn announced(
    changes: &mut tokio::sync::broadcast::Receiver<SessionId>,
    id: SessionId,
) -> bool {
    let wait = async { while changes.recv().await.unwrap() != id {} };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .is_ok()
}

async fn the_first_session_to_report_a_link_owns_it(store: DynStore) {
    let (first, second) = (new_session(60_000), new_session(60_000));
    let link = LinkId::new_random();
    let success = event(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    // Subscribed first, so each announcement can be waited for and none is mistaken for a
    // later one.
    let mut changes = store.subscribe();
    until_subscribed(&store, &mut changes).await;
    for session in [&first, &second] {
        store.create_session(session).await.unwrap();
        store.apply(&session.id, &success).await.unwrap();
        assert!(
            announced(&mut changes, session.id).await,
            "the success is announced"
        );
    }
    let state = store.link(&link).await.unwrap().unwrap();
    assert_eq!(state.session, Some(first.id));
    // Only the owning session's verification counts.
    store
        .set_link_verified(&link, &second.id, true)
        .await
        .unwrap();
    assert_eq!(store.link(&link).await.unwrap().unwrap().verified, None);
    store
        .set_link_verified(&link, &first.id, true)
        .await
        .unwrap();
    assert_eq!(
        store.link(&link).await.unwrap().unwrap().verified,
        Some(true)
    );
    // Every earlier announcement was taken above: this one is the verification's.
    assert!(
        announced(&mut changes, first.id).await,
        "verification announced"
    );
}

async fn a_success_never_takes_a_link_from_its_owner(store: DynStore) {
    let owner_a = ExternalId::parse(&format!("u_a{}", uuid::Uuid::new_v4().simple())).unwrap();
    let owner_b = ExternalId::parse(&format!("u_b{}", uuid::Uuid::new_v4().simple())).unwrap();
    let of = |owner: &ExternalId| {
        let mut session = new_session(60_000);
        session.owner = owner.clone();
        session
    };
    // A's link made through the API flow (no session), then one through A's widget session.
    let (api_link, widget_link) = (LinkId::new_random(), LinkId::new_random());
    let claim = LinkClaim {
        owner: owner_a.clone(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
    };
    assert!(store.claim_link(&api_link, &claim).await.unwrap());
    let a_session = of(&owner_a);
    store.create_session(&a_session).await.unwrap();
    let success = |link: &LinkId| {
        event(
            CallbackKind::Success,
            &format!("link={link}&institution=imss_mx_employment"),
        )
    };
    store
        .apply(&a_session.id, &success(&widget_link))
        .await
        .unwrap();

    for link in [api_link, widget_link] {
        let b_session = of(&owner_b);
        store.create_session(&b_session).await.unwrap();
        let applied = store.apply(&b_session.id, &success(&link)).await.unwrap();
        assert!(
            matches!(
                applied,
                Applied::Recorded {
                    status: Status::Failed,
                    changed: true,
                    ..
                }
            ),
            "{applied:?}"
        );
        let read = store.session(&b_session.id).await.unwrap().unwrap();
        assert_eq!(read.stored_status, Status::Failed);
        assert_eq!(read.link_id, None, "B's session names no link");
        let error = read.last_error.expect("B's session says why");
        assert_eq!(error.code, LINK_OWNED_ELSEWHERE);
        assert_eq!(error.message.as_deref(), Some(LINK_OWNED_ELSEWHERE_MESSAGE));
        let state = store.link(&link).await.unwrap().unwrap();
        assert_eq!(state.owner.as_ref(), Some(&owner_a), "A keeps the link");
    }
    assert_eq!(store.user_links(&owner_b).await.unwrap(), vec![]);
    assert!(store
        .user_links(&owner_a)
        .await
        .unwrap()
        .contains(&api_link));
    // A's own second session for its link still succeeds.
    let again = of(&owner_a);
    store.create_session(&again).await.unwrap();
    let applied = store.apply(&again.id, &success(&api_link)).await.unwrap();
    assert!(
        matches!(
            applied,
            Applied::Recorded {
                status: Status::Succeeded,
                ..
            }
        ),
        "{applied:?}"
    );
}

async fn a_success_wakes_waiters_once_its_link_is_claimed(store: DynStore) {
    let session = new_session(60_000);
    store.create_session(&session).await.unwrap();
    let mut changes = store.subscribe();
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.apply(&session.id, &success()).await.unwrap();
    let announced = tokio::time::timeout(Duration::from_secs(3), changes.recv())
        .await
        .expect("announced in time")
        .unwrap();
    assert_eq!(announced, session.id);
    // Whoever is woken reads a link that already names its session.
    let link = store.link(&LinkId::parse(LINK).unwrap()).await.unwrap();
    assert_eq!(link.and_then(|l| l.session), Some(session.id));
}

macro_rules! every_store {
    ($($name:ident $(with ttl $ttl:expr)?),* $(,)?) => {
        mod memory {
            use std::time::Duration;
            $(
                #[tokio::test]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut ttl = Duration::from_secs(600);
                    $(ttl = $ttl;)?
                    super::$name(super::memory_store(ttl)).await;
                }
            )*
        }
        mod redis {
            use std::time::Duration;
            $(
                #[tokio::test]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut ttl = Duration::from_secs(600);
                    $(ttl = $ttl;)?
                    super::$name(super::redis_store(ttl).await).await;
                }
            )*
        }
        mod cluster {
            use std::time::Duration;
            $(
                #[tokio::test]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut ttl = Duration::from_secs(600);
                    $(ttl = $ttl;)?
                    super::$name(super::cluster_store(ttl).await).await;
                }
            )*
        }
    };
}

every_store!(
    round_trips_a_session,
    first_terminal_event_wins,
    replays_count_once,
    concurrent_terminal_events_leave_exactly_one_outcome,
    missing_and_expired_sessions_record_nothing,
    records_expire_after_their_ttl with ttl Duration::from_secs(1),
    changes_are_announced,
    warnings_are_bounded,
    sessions_and_links_are_indexed_by_user,
    attempts_are_counted_in_a_window,
    token_requests_and_distinct_ids_are_counted_per_user,
    a_webhook_before_or_after_the_success_ends_the_same,
    a_session_is_read_with_its_link_as_it_is_now,
    a_link_remembers_its_latest_webhook_ids,
    the_first_session_to_report_a_link_owns_it,
    a_success_never_takes_a_link_from_its_owner,
    a_success_wakes_waiters_once_its_link_is_claimed,
);

/// Behaviour only a cluster has: a success is two steps there (the link hash is in another slot).
mod cluster_only {
    use std::time::Duration;

    use belvo_bff::domain::ids::LinkId;
    use belvo_bff::domain::session::Applied;
    use belvo_bff::store::{Keys, SessionStore};

    use super::{new_session, success, LINK};
    use crate::helpers::{test_redis_cluster_urls, unique_prefix};

    #[tokio::test]
    async fn a_replayed_success_claims_a_link_whose_second_step_was_lost() {
        let prefix = unique_prefix();
        let store = super::cluster_redis_store(&prefix, Duration::from_secs(600)).await;
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
}

/// Behaviour only one server has: each request-serving thread gets a connection of its own.
mod single_server_only {
    use std::time::{Duration, Instant};

    use belvo_bff::domain::ids::{LinkId, SessionId};
    use belvo_bff::domain::webhook::WebhookApplied;
    use belvo_bff::store::{Keys, RedisStore, Retention, SessionStore};

    use crate::helpers::unique_prefix;
    use crate::redis_outage::OwnRedis;

    /// Clients connected to `redis`, as it lists them.
    async fn clients(conn: &mut redis::aio::MultiplexedConnection) -> usize {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(conn)
            .await
            .unwrap();
        list.lines().count()
    }

    async fn wait_for_clients(conn: &mut redis::aio::MultiplexedConnection, want: usize) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while clients(conn).await != want {
            assert!(Instant::now() < deadline, "expected {want} clients");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A connection of the test's own to the shared test Redis, to look at what the store wrote.
    async fn inspector() -> belvo_bff::store::RedisConnection {
        belvo_bff::store::RedisConnection::single(
            &crate::helpers::test_redis_url(),
            Duration::from_secs(2),
        )
        .await
        .unwrap()
        .0
    }

    /// A list as stored.
    async fn list(conn: &mut belvo_bff::store::RedisConnection, key: String) -> Vec<String> {
        redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query_async(conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn webhook_ids_stay_out_of_the_link_hash_a_status_read_fetches() {
        let prefix = unique_prefix();
        let keys = Keys::new(&prefix);
        let store = super::redis_store_with(&prefix).await;
        let mut conn = inspector().await;
        let link = LinkId::new_random();
        for n in 0..20 {
            let update = super::webhook(&link, &format!("w-{n}"), "u_owner");
            store.record_webhook(&update).await.unwrap();
        }
        let fields: Vec<String> = redis::cmd("HKEYS")
            .arg(keys.link(&link))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            fields.len() < 6,
            "the link hash holds state only: {fields:?}"
        );
        let ids: usize = redis::cmd("ZCARD")
            .arg(keys.link_webhook_ids(&link))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(ids, 20);
        let ttl: i64 = redis::cmd("PTTL")
            .arg(keys.link_webhook_ids(&link))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "the ids expire with their link: {ttl}");

        // A marker an earlier version wrote in the link hash still stops a repeat.
        let _: i64 = redis::cmd("HSET")
            .arg(keys.link(&link))
            .arg("seen:from-before")
            .arg(1)
            .query_async(&mut conn)
            .await
            .unwrap();
        let update = super::webhook(&link, "from-before", "u_owner");
        assert_eq!(
            store.record_webhook(&update).await.unwrap(),
            WebhookApplied::Duplicate
        );
    }

    /// The scripts get whole timeline entries and store each as it always was: the entry's JSON
    /// with `"effect"` added as its last field, so lists written before and after read alike.
    #[tokio::test]
    async fn timeline_entries_are_stored_with_their_effect_as_the_last_field() {
        let prefix = unique_prefix();
        let keys = Keys::new(&prefix);
        let store = super::redis_store_with(&prefix).await;
        let mut conn = inspector().await;
        let with_effect = |entry: &serde_json::Value, effect: &str| {
            let entry = entry.to_string();
            format!("{},\"effect\":\"{effect}\"}}", &entry[..entry.len() - 1])
        };

        let session = super::new_session(60_000);
        store.create_session(&session).await.unwrap();
        let success = super::success();
        store.apply(&session.id, &success).await.unwrap();
        assert_eq!(
            list(&mut conn, keys.timeline(&session.id)).await,
            [with_effect(&success.timeline_entry, "applied")]
        );

        let link = LinkId::new_random();
        let update = super::webhook(&link, "w-1", "u_owner");
        store.record_webhook(&update).await.unwrap();
        assert_eq!(
            list(&mut conn, keys.link_timeline(&link)).await,
            [with_effect(&update.timeline_entry, "applied")]
        );
    }

    #[tokio::test]
    async fn each_single_threaded_runtime_sends_on_a_connection_of_its_own() {
        let redis = OwnRedis::start();
        let store = RedisStore::connect(
            &redis.url(),
            Keys::new(&unique_prefix()),
            Retention {
                session_ttl: Duration::from_secs(600),
            },
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        let mut inspector = redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        // The shared command connection, two subscriptions (sessions, branding), this one.
        wait_for_clients(&mut inspector, 4).await;

        // This test's runtime (single-threaded) gets its own on its first command, and the
        // commands meanwhile are answered on the shared one.
        let unknown = SessionId::generate();
        assert!(store.session(&unknown).await.unwrap().is_none());
        wait_for_clients(&mut inspector, 5).await;
        assert!(store.session(&unknown).await.unwrap().is_none());
        assert_eq!(clients(&mut inspector).await, 5, "made once per runtime");

        // As does another one, on another thread (as each actix-web worker does).
        let other = store.clone();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                while stopped.try_recv().is_err() {
                    assert!(other.session(&unknown).await.unwrap().is_none());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
        });
        wait_for_clients(&mut inspector, 6).await;
        stop.send(()).unwrap();
        worker.join().unwrap();
        // Its runtime is gone, and its connection with it.
        wait_for_clients(&mut inspector, 5).await;
    }
}
