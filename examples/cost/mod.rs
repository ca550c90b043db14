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

/// A pending session of `owner` for `mx_employment`, as the examples open them.
pub fn pending_session(
    id: belvo_bff::domain::ids::SessionId,
    owner: belvo_bff::domain::external_id::ExternalId,
) -> belvo_bff::domain::session::NewSession {
    use belvo_bff::domain::ids::{AccessMode, Platform, ProductName};
    use belvo_bff::domain::session::{now_millis, NewSession, SessionMode};
    let now = now_millis();
    NewSession {
        id,
        owner,
        product: ProductName::parse("mx_employment").unwrap(),
        platform: Platform::Android,
        institutions: vec!["imss_mx_employment".into()],
        access_mode: AccessMode::Single,
        created_at: now,
        token_expires_at: now + 600_000,
        deadline: now + 3_600_000,
        locale: Some("es".into()),
        mode: SessionMode::Connect,
        update_link: None,
        token: None,
        sub: None,
    }
}

/// Resets Redis's statistics, so [`commands_per`] counts from here.
pub async fn reset_stats(admin: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<()> {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(admin)
        .await?;
    Ok(())
}

/// The commands Redis ran since [`reset_stats`], each as `command calls×µs` per one of
/// `count` calls, comma-separated.
pub async fn commands_per(
    admin: &mut redis::aio::MultiplexedConnection,
    count: usize,
) -> anyhow::Result<String> {
    Ok(command_stats(admin)
        .await?
        .iter()
        .map(|c| {
            format!(
                "{} {:.2}×{:.2}µs",
                c.command,
                c.calls / count as f64,
                c.usec_per_call
            )
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// A new `historical_update` of `resource` on `link` for the user `u_cost`, as the bench sends.
pub fn webhook(
    link: &belvo_bff::domain::ids::LinkId,
    resource: &str,
) -> belvo_bff::domain::webhook::WebhookUpdate {
    use belvo_bff::domain::ids::SessionId;
    let payload: belvo_bff::domain::webhook::WebhookPayload =
        serde_json::from_value(serde_json::json!({
            "webhook_id": SessionId::generate().to_string().replace('-', ""),
            "webhook_type": resource,
            "webhook_code": "historical_update",
            "process_type": "historical_update",
            "link_id": link.to_string(),
            "request_id": SessionId::generate().to_string(),
            "external_id": "u_cost",
            "data": {"total_employment_record_profiles": 1},
        }))
        .unwrap();
    payload
        .into_update(belvo_bff::domain::session::now_millis())
        .unwrap()
}
