//! Redis instructions per webhook under callgrind (issue 19, target 0): drives the webhook cases
//! of the bench through a `RedisStore` on the Redis at `REDIS_URL`, which should run under
//! `valgrind --tool=callgrind` (its pid in `CALLGRIND_PID`): before and after each case it asks
//! callgrind for a dump named after the case (`callgrind_control -d <case>`), so each case's
//! instructions are in a file of their own; divide by the count printed. Without
//! `CALLGRIND_PID` it only drives the cases.
//!
//! Run the server with `--toggle-collect=readQueryFromClient` to count reading, running and
//! answering the commands and leave Redis's timers out:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect=readQueryFromClient \
//!   --callgrind-out-file=/tmp/wh.%p redis-server --port 6411 --save "" --appendonly no &
//! CALLGRIND_PID=<pid> REDIS_URL=redis://127.0.0.1:6411 \
//!   cargo run --release --example webhook_cost -- [links] [rounds]
//! ```
//!
//! The cases, on `links` links of finished sessions (claimed for `mx_employment`, whose one
//! fetch resource is `EMPLOYMENT_RECORDS`, as in the bench): `first` (one webhook on each: the
//! link's ids and timeline are made, its resources become ready), `steady` (`rounds` more on
//! each, new ids: the bench's case), `duplicate` (the last round again), `full` (5 more on each
//! of 10 links whose timelines are full), `rekeep` (one more on each link, more than 30 s after
//! the last keep of its TTLs).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use belvo_bff::domain::callback::{CallbackEvent, CallbackKind};
use belvo_bff::domain::external_id::ExternalId;
use belvo_bff::domain::ids::{LinkId, ProductName, SessionId};
use belvo_bff::domain::session::{now_millis, Transition, MAX_EVENTS};
use belvo_bff::domain::webhook::{LinkClaim, WebhookUpdate};
use belvo_bff::store::{Keys, Links, RedisStore, Retention, Sessions};

mod cost;
use cost::{commands_per, pending_session, reset_stats, run, webhook};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(200), |a| a.parse())?;
    let rounds: usize = args.get(2).map_or(Ok(10), |a| a.parse())?;
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6411".into());
    let pid = std::env::var("CALLGRIND_PID").ok();
    let prefix = format!("whcost{}", now_millis());
    let resources = BTreeMap::from([(
        "mx_employment".to_owned(),
        vec!["EMPLOYMENT_RECORDS".to_owned()],
    )]);
    let store = RedisStore::connect(
        &url,
        Keys::new(&prefix),
        Retention::both(Duration::from_secs(3600)),
        Duration::from_secs(30),
    )
    .await?
    .with_fetch_resources(Arc::new(resources));
    let store = Arc::new(store);
    let admin = redis::Client::open(url.as_str())?;
    let admin = &mut admin.get_multiplexed_async_connection().await?;

    // Links of finished sessions, claimed for their product (the verification's claim).
    let owner = ExternalId::parse("u_cost").unwrap();
    let links: Vec<LinkId> = (0..n + 10).map(|_| LinkId::new_random()).collect();
    run(&links, |link| {
        let store = store.clone();
        let owner = owner.clone();
        async move {
            let id = SessionId::generate();
            let now = now_millis();
            let session = pending_session(id, owner.clone());
            store.create_session(&session).await?;
            let query = format!("link={link}&institution=imss_mx_employment");
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap();
            let event = CallbackEvent::parse(CallbackKind::Success, &pairs).unwrap();
            store
                .apply(&id, &Transition::new(&event, "callback", now))
                .await?;
            let claim = LinkClaim {
                owner,
                product: ProductName::parse("mx_employment").unwrap(),
                institution: "imss_mx_employment".into(),
                funnel: Some("mx_employment|android|connect|imss_mx_employment|".into()),
            };
            store.claim_link(link, &claim).await.map(|_| ())
        }
    })
    .await?;
    let (links, full) = links.split_at(n);

    let round = |links: &[LinkId]| -> Vec<WebhookUpdate> {
        links
            .iter()
            .map(|link| webhook(link, "EMPLOYMENT_RECORDS"))
            .collect()
    };
    // The full timelines' links, filled first and a few more (not counted).
    for _ in 0..MAX_EVENTS + 5 {
        send(&store, &round(full)).await?;
    }

    let mut last = round(links);
    measure(admin, &pid, "first", last.len(), || send(&store, &last)).await?;
    let steady: Vec<WebhookUpdate> = (0..rounds).flat_map(|_| round(links)).collect();
    measure(admin, &pid, "steady", steady.len(), || {
        send(&store, &steady)
    })
    .await?;
    last = steady[steady.len() - links.len()..].to_vec();
    measure(admin, &pid, "duplicate", last.len(), || send(&store, &last)).await?;
    let more: Vec<WebhookUpdate> = (0..5).flat_map(|_| round(full)).collect();
    measure(admin, &pid, "full", more.len(), || send(&store, &more)).await?;
    tokio::time::sleep(Duration::from_secs(31)).await;
    let later = round(links);
    measure(admin, &pid, "rekeep", later.len(), || send(&store, &later)).await?;
    Ok(())
}

async fn send(store: &Arc<RedisStore>, updates: &[WebhookUpdate]) -> anyhow::Result<()> {
    run(updates, |update| {
        let store = store.clone();
        async move { store.record_webhook(update).await.map(|_| ()) }
    })
    .await
}

/// Runs one case between two callgrind dumps, the second named after it, and prints the
/// commands Redis ran per webhook (`INFO commandstats`, scripts' commands included).
async fn measure<Fut>(
    admin: &mut redis::aio::MultiplexedConnection,
    pid: &Option<String>,
    name: &str,
    count: usize,
    case: impl FnOnce() -> Fut,
) -> anyhow::Result<()>
where
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let dump = |label: &str| -> anyhow::Result<()> {
        if let Some(pid) = pid {
            let done = std::process::Command::new("callgrind_control")
                .arg(format!("--dump={label}"))
                .arg(pid)
                .stdout(std::process::Stdio::null())
                .status()?;
            anyhow::ensure!(done.success(), "callgrind_control failed");
        }
        Ok(())
    };
    reset_stats(admin).await?;
    dump(&format!("before-{name}"))?;
    case().await?;
    dump(name)?;
    let commands = commands_per(admin, count).await?;
    println!("{name:<10} {count} webhooks | {}", commands);
    Ok(())
}
