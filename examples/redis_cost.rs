//! Redis CPU per callback, link verification and webhook, measured on the store itself (issue
//! 19, item 0): each case drives N store calls of one kind, 32 at a time, through a `RedisStore`
//! on the Redis at `REDIS_URL` (use a Redis of your own: it resets its statistics), and prints
//! per call Redis's CPU time (`INFO cpu`, user + system), the time it spent running commands
//! (`INFO commandstats`, scripts included) and which commands the scripts ran.
//!
//! `cargo run --release --example redis_cost -- [N] [events]`; `events` writes each terminal
//! change's outbound event too (as with a notify endpoint configured).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use belvo_bff::domain::callback::{CallbackEvent, CallbackKind};
use belvo_bff::domain::external_id::ExternalId;
use belvo_bff::domain::funnel::TerminalStep;
use belvo_bff::domain::health::BelvoRecord;
use belvo_bff::domain::ids::{LinkId, ProductName, SessionId};
use belvo_bff::domain::session::{now_millis, Transition};
use belvo_bff::domain::verification::{Matched, Verification};
use belvo_bff::domain::webhook::LinkClaim;
use belvo_bff::store::{Keys, Links, RedisStore, Retention, Sessions};

mod cost;
use cost::{commands_per, pending_session, reset_stats, run, webhook};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(20_000), |a| a.parse())?;
    let events = args.iter().any(|a| a == "events");
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6395".into());
    let prefix = format!("cost{}", now_millis());
    let resources = BTreeMap::from([(
        "mx_employment".to_owned(),
        vec!["EMPLOYMENT_RECORDS".to_owned(), "EMPLOYMENTS".to_owned()],
    )]);
    let store = RedisStore::connect(
        &url,
        Keys::new(&prefix),
        Retention::both(Duration::from_secs(3600)),
        Duration::from_secs(5),
    )
    .await?
    .with_events(events)
    .with_fetch_resources(Arc::new(resources));
    let store = Arc::new(store);
    let admin = redis::Client::open(url.as_str())?;
    let mut admin = admin.get_multiplexed_async_connection().await?;

    let transition = |kind, query: &str| {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let event = CallbackEvent::parse(kind, &pairs).unwrap();
        let mut t = Transition::new(&event, "callback", now_millis());
        t.emit = events;
        t.funnel = Some(TerminalStep {
            step: if kind == CallbackKind::Success {
                "success".into()
            } else {
                "exit".into()
            },
            institution: "imss_mx_employment".into(),
        });
        t
    };
    let successes: Vec<(SessionId, Transition)> = sessions(&store, n)
        .await?
        .into_iter()
        .map(|id| {
            let query = format!(
                "link={}&institution=imss_mx_employment",
                LinkId::new_random()
            );
            (id, transition(CallbackKind::Success, &query))
        })
        .collect();
    let exits: Vec<(SessionId, Transition)> = sessions(&store, n)
        .await?
        .into_iter()
        .map(|id| {
            let query = "last_encountered_error_code=login_error&meta_data_step=abandon-survey";
            (id, transition(CallbackKind::Exit, query))
        })
        .collect();

    measure(&mut admin, "first success", n, || {
        run(&successes, |(id, t)| {
            let store = store.clone();
            async move { store.apply(id, t).await.map(|_| ()) }
        })
    })
    .await?;
    measure(&mut admin, "replayed success", n, || {
        run(&successes, |(id, t)| {
            let store = store.clone();
            async move { store.apply(id, t).await.map(|_| ()) }
        })
    })
    .await?;
    // A new success (another link) on each finished session: its timeline entry alone. This
    // store saw them finish (`late_event.lua`); another replica's did not (`apply_event.lua`).
    let later = |successes: &[(SessionId, Transition)]| -> Vec<(SessionId, Transition)> {
        successes
            .iter()
            .map(|(id, _)| {
                let query = format!(
                    "link={}&institution=imss_mx_employment",
                    LinkId::new_random()
                );
                (*id, transition(CallbackKind::Success, &query))
            })
            .collect()
    };
    let (later_here, later_there) = (later(&successes), later(&successes));
    measure(&mut admin, "later success (seen finished)", n, || {
        run(&later_here, |(id, t)| {
            let store = store.clone();
            async move { store.apply(id, t).await.map(|_| ()) }
        })
    })
    .await?;
    let replica = Arc::new(
        RedisStore::connect(
            &url,
            Keys::new(&prefix),
            Retention::both(Duration::from_secs(3600)),
            Duration::from_secs(5),
        )
        .await?
        .with_events(events),
    );
    measure(&mut admin, "later success (another replica)", n, || {
        run(&later_there, |(id, t)| {
            let replica = replica.clone();
            async move { replica.apply(id, t).await.map(|_| ()) }
        })
    })
    .await?;
    measure(&mut admin, "exit", n, || {
        run(&exits, |(id, t)| {
            let store = store.clone();
            async move { store.apply(id, t).await.map(|_| ()) }
        })
    })
    .await?;
    measure(&mut admin, "replayed exit", n, || {
        run(&exits, |(id, t)| {
            let store = store.clone();
            async move { store.apply(id, t).await.map(|_| ()) }
        })
    })
    .await?;

    // Each first success's link verification once Belvo has answered (its record reads
    // `valid`), as the callback's task records it: the session's read with the verification's
    // schedule entry, then the one store call for all it writes.
    let verifications: Vec<(SessionId, LinkId)> = successes
        .iter()
        .filter_map(|(id, t)| Some((*id, t.link?)))
        .collect();
    measure(&mut admin, "verification", n, || {
        run(&verifications, |(id, link)| {
            let store = store.clone();
            async move {
                let lease = Some(now_millis() + 60_000);
                let Some(session) = store.verification_session(id, link, lease).await? else {
                    return Ok(());
                };
                let verification = Verification {
                    link: *link,
                    session: *id,
                    matched: Some(Matched {
                        claim: LinkClaim {
                            owner: session.record.owner,
                            product: session.record.product,
                            institution: "imss_mx_employment".into(),
                            funnel: Some(
                                "mx_employment|android|connect|imss_mx_employment|".into(),
                            ),
                        },
                        reconnected: false,
                        record: Some(BelvoRecord::Valid),
                        first_check_at: now_millis() + 3_600_000,
                    }),
                    now: now_millis(),
                };
                store.record_verification(&verification).await.map(|_| ())
            }
        })
    })
    .await?;

    // Webhooks on the links of the successes, each link verified for its product first (as
    // after a success), then one EMPLOYMENT_RECORDS historical_update each; the second round
    // completes the product's resources with EMPLOYMENTS (`link.resources_ready`).
    let owner = ExternalId::parse("u_cost").unwrap();
    let links: Vec<LinkId> = successes.iter().filter_map(|(_, t)| t.link).collect();
    run(&links, |link| {
        let store = store.clone();
        let claim = LinkClaim {
            owner: owner.clone(),
            product: ProductName::parse("mx_employment").unwrap(),
            institution: "imss_mx_employment".into(),
            // As a verified session's claim: the link's funnel steps count under this prefix.
            funnel: Some("mx_employment|ios|connect|imss_mx_employment|".into()),
        };
        async move { store.claim_link(link, &claim).await.map(|_| ()) }
    })
    .await?;
    for resource in ["EMPLOYMENT_RECORDS", "EMPLOYMENTS"] {
        let updates: Vec<_> = links.iter().map(|link| webhook(link, resource)).collect();
        measure(&mut admin, &format!("webhook {resource}"), n, || {
            run(&updates, |update| {
                let store = store.clone();
                async move { store.record_webhook(update).await.map(|_| ()) }
            })
        })
        .await?;
        measure(
            &mut admin,
            &format!("duplicate webhook {resource}"),
            n,
            || {
                run(&updates, |update| {
                    let store = store.clone();
                    async move { store.record_webhook(update).await.map(|_| ()) }
                })
            },
        )
        .await?;
    }
    Ok(())
}

/// `n` new pending sessions of one user.
async fn sessions(store: &Arc<RedisStore>, n: usize) -> anyhow::Result<Vec<SessionId>> {
    let ids: Vec<SessionId> = (0..n).map(|_| SessionId::generate()).collect();
    run(&ids, |id| {
        let store = store.clone();
        let session = pending_session(*id, ExternalId::parse("u_cost").unwrap());
        async move { store.create_session(&session).await }
    })
    .await?;
    Ok(ids)
}

/// Runs one case and prints Redis's costs per call.
async fn measure<Fut>(
    admin: &mut redis::aio::MultiplexedConnection,
    name: &str,
    n: usize,
    case: impl FnOnce() -> Fut,
) -> anyhow::Result<()>
where
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    reset_stats(admin).await?;
    let before = cpu_us(admin).await?;
    case().await?;
    let cpu = cpu_us(admin).await? - before;
    let commands = commands_per(admin, n).await?;
    println!(
        "{name:<28} redis cpu {:>5.1} µs/call | {}",
        cpu / n as f64,
        commands
    );
    Ok(())
}

async fn cpu_us(admin: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<f64> {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(admin).await?;
    Ok(info
        .lines()
        .filter(|l| l.starts_with("used_cpu_user:") || l.starts_with("used_cpu_sys:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum::<f64>()
        * 1e6)
}
