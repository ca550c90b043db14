//! Funnel counters (SPEC §14): every session write counts its step in the same round trip, a
//! replayed callback never counts twice, and a reader sums every shard of every day.

use std::collections::HashMap;

use belvo_bff::domain::funnel::{self, Day, KnownInstitutions, TerminalStep};

use super::*;

/// A callback event as the sessions service hands it to the store: with its funnel step.
fn counted(kind: CallbackKind, query: &str) -> Transition {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let event = CallbackEvent::parse(kind, &pairs).unwrap();
    let mut t = Transition::new(&event, "test", now_millis());
    t.funnel = TerminalStep::of(&event, &KnownInstitutions::new(["imss_mx_employment"]));
    t
}

/// Every counter around today (a test that runs over midnight still finds its counts).
async fn counts(store: &DynStore) -> HashMap<String, u64> {
    let today = Day::of_millis(now_millis());
    let days = [today.minus_days(1), today, today.next()];
    store.funnel_counts(&days).await.unwrap()
}

async fn each_session_counts_its_steps_once(store: DynStore) {
    let mut sessions = Vec::new();
    for platform in [
        Platform::Android,
        Platform::Android,
        Platform::Ios,
        Platform::Ios,
    ] {
        let mut session = new_session(60_000);
        session.platform = platform;
        store.create_session(&session).await.unwrap();
        sessions.push(session.id);
    }
    // The first two open the widget (one twice: counted once).
    for id in [&sessions[0], &sessions[1], &sessions[1]] {
        store.open_widget(id, now_millis()).await.unwrap();
    }
    let success = counted(
        CallbackKind::Success,
        &format!("link={LINK}&institution=imss_mx_employment"),
    );
    store.apply(&sessions[0], &success).await.unwrap();
    // Replayed (Belvo's retry, a reloaded page): counted once.
    store.apply(&sessions[0], &success).await.unwrap();
    // A later terminal event on a finished session counts nothing either.
    let exit = counted(CallbackKind::Exit, "meta_data_step=abandon-survey");
    store.apply(&sessions[0], &exit).await.unwrap();
    // An exit naming an institution left after choosing it, even from the survey; an unknown
    // institution is `other`.
    let left = counted(
        CallbackKind::Exit,
        "meta_data_institution_name=some_bank&meta_data_step=abandon-survey",
    );
    store.apply(&sessions[1], &left).await.unwrap();
    store.apply(&sessions[2], &exit).await.unwrap();
    let error = counted(CallbackKind::Event, "error=login_error&error_message=bad");
    store.apply(&sessions[3], &error).await.unwrap();
    store.apply(&sessions[3], &error).await.unwrap();

    let counts = counts(&store).await;
    let expected: HashMap<String, u64> = [
        ("mx_employment|android|connect|-|created", 2),
        ("mx_employment|ios|connect|-|created", 2),
        ("mx_employment|android|connect|-|opened", 2),
        (
            "mx_employment|android|connect|imss_mx_employment|success",
            1,
        ),
        (
            "mx_employment|android|connect|imss_mx_employment|within:1",
            1,
        ),
        ("mx_employment|android|connect|other|exit_institution", 1),
        ("mx_employment|ios|connect|-|exit_first_screen", 1),
        ("mx_employment|ios|connect|-|error:login_error", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected);
}

async fn a_refused_success_counts_as_its_error(store: DynStore) {
    let link = LinkId::parse(LINK).unwrap();
    let success = || {
        counted(
            CallbackKind::Success,
            &format!("link={link}&institution=imss_mx_employment"),
        )
    };
    let first = new_session(60_000);
    store.create_session(&first).await.unwrap();
    store.apply(&first.id, &success()).await.unwrap();
    // Another user's session names the same link: it fails, and counts as that error.
    let mut other = new_session(60_000);
    other.owner = belvo_bff::domain::external_id::ExternalId::parse("u_someone_else").unwrap();
    store.create_session(&other).await.unwrap();
    store.apply(&other.id, &success()).await.unwrap();
    let counts = counts(&store).await;
    let step = |s: &str| {
        counts
            .get(&format!("mx_employment|android|connect|{s}"))
            .copied()
    };
    assert_eq!(step("imss_mx_employment|success"), Some(1), "{counts:?}");
    assert_eq!(
        step("imss_mx_employment|error:link_owned_elsewhere"),
        Some(1),
        "{counts:?}"
    );
}

every_store!(
    each_session_counts_its_steps_once,
    a_refused_success_counts_as_its_error,
);

/// A session connected (its success counted) and its link, as its verification claims it: with
/// the session's funnel prefix.
async fn connected(store: &DynStore, link: &str, owner: &str) -> (SessionId, LinkId, LinkClaim) {
    let mut session = new_session(60_000);
    session.owner = ExternalId::parse(owner).unwrap();
    store.create_session(&session).await.unwrap();
    let success = counted(
        CallbackKind::Success,
        &format!("link={link}&institution=imss_mx_employment"),
    );
    store.apply(&session.id, &success).await.unwrap();
    let stored = store.session(&session.id).await.unwrap().unwrap();
    let known = KnownInstitutions::new(["imss_mx_employment"]);
    let claim = LinkClaim {
        owner: session.owner.clone(),
        product: session.product.clone(),
        institution: "imss_mx_employment".into(),
        funnel: Some(funnel::link_prefix(&stored, &known)),
    };
    (session.id, LinkId::parse(link).unwrap(), claim)
}

/// A session's link counts `link_verified` when its verification first says so, and
/// `resources_ready` when its product's one fetch resource is ready — whichever of the claim or
/// the webhook comes last — once per link: a second verification, a re-sent webhook, or a link
/// no session made count nothing. No endpoint is configured: counting needs no event.
async fn a_verified_link_and_its_ready_resources_count_once(store: DynStore) {
    // The webhook first: the claim finds the resource ready.
    let (first, early, claim) = connected(&store, LINK, "u_early").await;
    store
        .record_webhook(&webhook(&early, "wh-early-1", "u_early"))
        .await
        .unwrap();
    assert!(store.claim_link(&early, &claim).await.unwrap());
    store.set_link_verified(&early, &first, true).await.unwrap();
    store.set_link_verified(&early, &first, true).await.unwrap();

    // The claim first: the webhook makes the resource ready; Belvo refreshing it adds nothing.
    let late_link = "0f6e5a8e-1b2c-4d3e-9f4a-5b6c7d8e9f01";
    let (second, late, claim) = connected(&store, late_link, "u_late").await;
    assert!(store.claim_link(&late, &claim).await.unwrap());
    store.set_link_verified(&late, &second, true).await.unwrap();
    for id in ["wh-late-1", "wh-late-1", "wh-late-2"] {
        store
            .record_webhook(&webhook(&late, id, "u_late"))
            .await
            .unwrap();
    }
    // Deleted by its owner and made again (a new link under the same id): its webhook makes its
    // resource ready again, whatever a store remembered of the link before (a Redis store's
    // replica sends the webhooks of a link it saw settled without what readiness needs).
    let owner = ExternalId::parse("u_late").unwrap();
    assert!(store.delete_link(&late, &owner).await.unwrap());
    assert!(store.claim_link(&late, &claim).await.unwrap());
    let again = store
        .record_webhook(&webhook(&late, "wh-late-3", "u_late"))
        .await
        .unwrap();
    assert!(
        matches!(again, WebhookApplied::Recorded { .. }),
        "{again:?}"
    );

    // A forged success: verification fails, nothing more counts.
    let forged_link = "5a1d7c3e-2b4f-4e6a-8c9d-0e1f2a3b4c5d";
    let (third, forged, _) = connected(&store, forged_link, "u_forged").await;
    store
        .set_link_verified(&forged, &third, false)
        .await
        .unwrap();

    // A link made through the API: no session, so no funnel.
    let api = LinkId::parse("7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e").unwrap();
    let api_claim = LinkClaim {
        owner: ExternalId::parse("u_api").unwrap(),
        product: ProductName::parse("mx_employment").unwrap(),
        institution: "imss_mx_employment".into(),
        funnel: None,
    };
    assert!(store.claim_link(&api, &api_claim).await.unwrap());
    store
        .record_webhook(&webhook(&api, "wh-api-1", "u_api"))
        .await
        .unwrap();

    // A link whose first webhook carries no external id: the next one that does is the first
    // external id the link's webhooks carried, whatever a store remembered of the link (a
    // Redis store's replica sends the webhooks of a link it saw ready without the readiness
    // arguments).
    let quiet = LinkId::parse("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f").unwrap();
    let quiet_claim = LinkClaim {
        owner: ExternalId::parse("u_quiet").unwrap(),
        ..api_claim.clone()
    };
    assert!(store.claim_link(&quiet, &quiet_claim).await.unwrap());
    let mut anonymous = webhook(&quiet, "wh-quiet-1", "u_quiet");
    anonymous.external_id = None;
    store.record_webhook(&anonymous).await.unwrap();
    store
        .record_webhook(&webhook(&quiet, "wh-quiet-2", "u_quiet"))
        .await
        .unwrap();
    let state = store.link(&quiet).await.unwrap().unwrap();
    assert_eq!(state.webhook_external_id.as_deref(), Some("u_quiet"));

    let counts = counts(&store).await;
    let step = |s: &str| {
        counts
            .get(&format!(
                "mx_employment|android|connect|imss_mx_employment|{s}"
            ))
            .copied()
    };
    assert_eq!(step("success"), Some(3), "{counts:?}");
    assert_eq!(step("link_verified"), Some(2), "{counts:?}");
    assert_eq!(step("resources_ready"), Some(3), "{counts:?}");
    let link_steps: u64 = counts
        .iter()
        .filter(|(field, _)| {
            field.ends_with("|link_verified") || field.ends_with("|resources_ready")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(link_steps, 5, "no other counter: {counts:?}");
}

// The link steps need the product's fetch resources: the same test on each store, given them.
every_store_with_fetch_resources!(
    link_steps,
    a_verified_link_and_its_ready_resources_count_once
);

/// A finished day is summed over its shards once and kept: a later read finds the same counts
/// even when the shards are gone, and today is always read from its shards.
#[tokio::test]
async fn a_finished_day_is_summed_once_and_kept() {
    use belvo_bff::domain::shard::Shard;
    use belvo_bff::store::{FunnelStore, Keys, RedisConnection};

    let prefix = crate::helpers::unique_prefix();
    let store = redis_store_with(&prefix).await;
    let keys = Keys::new(&prefix);
    let today = Day::of_millis(now_millis());
    let old = today.minus_days(3);
    let (mut conn, _) =
        RedisConnection::single(&crate::helpers::test_redis_url(), Duration::from_secs(5))
            .await
            .unwrap();
    let field = "p|ios|connect|-|created";
    for day in [old, today] {
        for shard in Shard::all().filter(|s| s.index() < 3) {
            let key = keys.funnel(shard, day);
            ::redis::cmd("HINCRBY")
                .arg(&key)
                .arg(field)
                .arg(2)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap();
        }
    }
    let first = store.funnel_counts(&[old]).await.unwrap();
    assert_eq!(first.get(field), Some(&6), "three shards of 2: {first:?}");
    assert!(!first.contains_key("_"), "the marker is not a counter");
    for day in [old, today] {
        for shard in Shard::all() {
            ::redis::cmd("DEL")
                .arg(keys.funnel(shard, day))
                .query_async::<i64>(&mut conn)
                .await
                .unwrap();
        }
    }
    let again = store.funnel_counts(&[old, today]).await.unwrap();
    assert_eq!(
        again.get(field),
        Some(&6),
        "the old day from its sum, today from its shards"
    );
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg(keys.funnel_day(old))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "the sum expires with its day");
}
