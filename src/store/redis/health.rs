//! [`LinkHealthStore`] on Redis: facts and history under the link's hash tag
//! (`apply_health.lua`), the attention index under `{health}`, the due set and its per-second
//! claim counter under `{due}` (`claim_due.lua`).

use async_trait::async_trait;
use redis::AsyncCommands;

use super::RedisStore;
use crate::domain::consent::DueDate;
use crate::domain::health::{
    BelvoRecord, Health, HealthChange, HealthReason, HealthTransition, MAX_HEALTH_HISTORY,
};
use crate::domain::ids::LinkId;
use crate::domain::session::Millis;
use crate::store::{lua, ClaimRules, Claimed, DueEntry, LinkHealthStore, StoreError, StoreResult};

impl RedisStore {
    /// A health change as `apply_health` (`link_steps.lua`) replies it: from ("" = never set),
    /// to, reason code, reason message.
    pub(super) fn transition(
        &self,
        link: &LinkId,
        reply: Vec<String>,
        now: Millis,
    ) -> StoreResult<HealthTransition> {
        let corrupt = || StoreError::corrupt(self.keys.link(link), "apply_health reply");
        let [from, to, reason, message] = <[String; 4]>::try_from(reply).map_err(|_| corrupt())?;
        Ok(HealthTransition {
            link: *link,
            from: Health::parse(&from),
            to: Health::parse(&to).ok_or_else(corrupt)?,
            reason: (!reason.is_empty()).then(|| HealthReason {
                code: reason,
                message: (!message.is_empty()).then_some(message),
            }),
            at: now,
        })
    }

    /// The attention index writes of a change of health: out of the index of the health it
    /// leaves, into the one of the health it reaches (none for `ok`).
    pub(super) fn index_moves(&self, transition: &HealthTransition) -> Vec<redis::Cmd> {
        let link = transition.link.to_string();
        let mut moves = Vec::new();
        if !transition.changed() {
            return moves;
        }
        if let Some(from) = transition.from.filter(|h| *h != Health::Ok) {
            moves.push(redis::Cmd::zrem(self.keys.health_index(from), &link));
        }
        if transition.to != Health::Ok {
            moves.push(redis::Cmd::zadd(
                self.keys.health_index(transition.to),
                &link,
                transition.at,
            ));
        }
        moves
    }
}

/// `apply_health.lua`'s arguments for a change: change, code, message, then the consent's
/// state, id, due date and renewal details (empty but for a consent change).
pub(super) fn script_args(change: &HealthChange) -> (&'static str, String, String, [String; 4]) {
    let none = || [String::new(), String::new(), String::new(), String::new()];
    match change {
        HealthChange::CredentialsFailed(reason) => (
            "credentials_failed",
            reason.code.clone(),
            reason.message.clone().unwrap_or_default(),
            none(),
        ),
        HealthChange::Reconnected => ("reconnected", String::new(), String::new(), none()),
        HealthChange::Record(record) => {
            let status = match record {
                BelvoRecord::Valid => "valid",
                BelvoRecord::Invalid => "invalid",
                BelvoRecord::TokenRequired => "token_required",
                BelvoRecord::Unconfirmed => "unconfirmed",
                BelvoRecord::Missing => "missing",
            };
            let message = match record {
                BelvoRecord::Invalid => "Belvo's record of the link reads invalid",
                BelvoRecord::TokenRequired => "Belvo's record of the link reads token_required",
                _ => "",
            };
            ("record", status.to_owned(), message.to_owned(), none())
        }
        HealthChange::Consent(c) => {
            let due = match c.due {
                DueDate::Absent => "keep".to_owned(),
                DueDate::Unreadable => String::new(),
                DueDate::At(at) => at.to_string(),
            };
            let renew = c
                .renew
                .as_ref()
                .map(|r| serde_json::to_string(r).expect("renewal details serialise"))
                .unwrap_or_default();
            (
                "consent",
                c.state.reason_code().unwrap_or_default().to_owned(),
                String::new(),
                [
                    c.state.stored().to_owned(),
                    c.consent_id.clone().unwrap_or_default(),
                    due,
                    renew,
                ],
            )
        }
        HealthChange::DataArrived => ("data_arrived", String::new(), String::new(), none()),
    }
}

#[async_trait]
impl LinkHealthStore for RedisStore {
    async fn apply_health(
        &self,
        link: &LinkId,
        change: &HealthChange,
        now: Millis,
    ) -> StoreResult<Option<HealthTransition>> {
        let (kind, code, message, consent) = script_args(change);
        let mut conn = self.conn();
        let mut invocation = lua::APPLY_HEALTH.prepare_invoke();
        invocation
            .key(self.keys.link(link))
            .key(self.keys.link_health_history(link));
        if let Some(outbox) = self.link_outbox(link) {
            invocation.key(outbox);
        }
        invocation
            .arg(kind)
            .arg(code)
            .arg(message)
            .arg(now)
            .arg(MAX_HEALTH_HISTORY)
            .arg(&consent[..])
            .arg(link.to_string());
        let reply: Vec<String> = self.run(invocation.invoke_async(&mut conn)).await?;
        if reply.is_empty() {
            return Ok(None);
        }
        let transition = self.transition(link, reply, now)?;
        if transition.changed() {
            // The index is in another slot: a crash here leaves it behind until the next change;
            // its readers skip links whose health is not the one listed.
            let mut pipe = redis::pipe();
            for command in self.index_moves(&transition) {
                pipe.add_command(command).ignore();
            }
            self.run(pipe.query_async::<()>(&mut conn)).await?;
        }
        Ok(Some(transition))
    }

    async fn health_history(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>> {
        let mut conn = self.conn();
        let raw: Vec<String> = self
            .run(conn.lrange(self.keys.link_health_history(link), 0, -1))
            .await?;
        Ok(raw
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect())
    }

    async fn links_with_health(
        &self,
        health: Health,
        limit: usize,
    ) -> StoreResult<Vec<(LinkId, Millis)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let raw: Vec<(String, f64)> = self
            .run(conn.zrevrange_withscores(self.keys.health_index(health), 0, limit as isize - 1))
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|(id, at)| Some((LinkId::parse(&id).ok()?, at as Millis)))
            .collect())
    }

    async fn schedule(&self, entry: &DueEntry, at: Millis, replace: bool) -> StoreResult<()> {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.keys.due());
        if !replace {
            cmd.arg("NX");
        }
        cmd.arg(at).arg(entry.member());
        let mut conn = self.conn();
        self.run(cmd.query_async::<i64>(&mut conn))
            .await
            .map(|_| ())
    }

    async fn claim_due(&self, now: Millis, rules: ClaimRules) -> StoreResult<Claimed> {
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .run(
                lua::CLAIM_DUE
                    .key(self.keys.due())
                    .key(self.keys.due_rate(now.div_euclid(1000)))
                    .arg(now)
                    .arg(rules.batch)
                    .arg(rules.rate_per_second)
                    .arg(rules.check_every_ms)
                    .arg(rules.verify_lease_ms)
                    .invoke_async(&mut conn),
            )
            .await?;
        let mut reply = reply.into_iter();
        let overdue_ms = reply
            .next()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| StoreError::corrupt(self.keys.due(), "claim_due.lua reply"))?;
        let entries = reply
            .filter_map(|member| {
                let entry = DueEntry::parse(&member);
                if entry.is_none() {
                    tracing::warn!(member, "unreadable due entry skipped");
                }
                entry
            })
            .collect();
        Ok(Claimed {
            entries,
            overdue_ms,
        })
    }

    async fn forget_link_health(&self, link: &LinkId) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        for health in Health::needing_attention() {
            pipe.zrem(self.keys.health_index(health), link.to_string())
                .ignore();
        }
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await?;
        self.run(conn.zrem::<_, _, i64>(self.keys.due(), DueEntry::Check(*link).member()))
            .await
            .map(|_| ())
    }

    async fn unschedule(&self, entry: &DueEntry) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.zrem::<_, _, i64>(self.keys.due(), entry.member()))
            .await
            .map(|_| ())
    }
}
