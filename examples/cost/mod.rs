//! What the cost examples (`redis_cost.rs`, `webhook_cost.rs`) share: store calls run many at a
//! time, and the commands Redis ran, read from `INFO commandstats`.

use futures_util::StreamExt;

/// Store calls in flight at once, as a loaded server has them.
pub const PARALLEL: usize = 32;

/// Runs `call` on every item, `PARALLEL` at a time.
pub async fn run<'a, T, F, Fut>(items: &'a [T], call: F) -> anyhow::Result<()>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = belvo_bff::store::StoreResult<()>> + 'a,
{
    let mut calls = futures_util::stream::iter(items.iter().map(call)).buffer_unordered(PARALLEL);
    while let Some(done) = calls.next().await {
        done?;
    }
    Ok(())
}

/// A command Redis ran since its statistics were last reset: its calls and µs per call.
pub struct CommandStat {
    pub command: String,
    pub calls: f64,
    pub usec_per_call: f64,
}

/// The commands Redis ran since `CONFIG RESETSTAT` (scripts' own commands included), leaving
/// out the `INFO` and `CONFIG` of the measuring itself.
pub async fn command_stats(
    admin: &mut redis::aio::MultiplexedConnection,
) -> anyhow::Result<Vec<CommandStat>> {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(admin)
        .await?;
    let mut commands = Vec::new();
    for line in stats.lines() {
        let Some((command, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        if command == "info" || command == "config" {
            continue;
        }
        let field = |name: &str| -> f64 {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        commands.push(CommandStat {
            command: command.to_owned(),
            calls: field("calls"),
            usec_per_call: field("usec_per_call"),
        });
    }
    Ok(commands)
}
