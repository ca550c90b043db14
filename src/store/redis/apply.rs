//! Applying a widget event: `apply_event.lua` on the session's slot and, on a Redis Cluster,
//! the success's second step on the link's slot (`claim_session_link.lua`).

use redis::AsyncCommands;

use super::RedisStore;
use crate::domain::funnel::Day;
use crate::domain::ids::{LinkId, Platform, SessionId};
use crate::domain::session::{Applied, Status, Transition, MAX_EVENTS, MAX_WARNINGS};
use crate::domain::shard::Shard;
use crate::store::codec::{self, CorruptSession};
use crate::store::{lua, StoreError, StoreResult};

impl RedisStore {
    /// One script on a single server. On a cluster the link hash is in another slot than the
    /// session's keys, so a success claims its link in a second step, after the script; waiters
    /// are woken once the link is claimed.
    pub(super) async fn apply_event(&self, id: &SessionId, t: &Transition) -> StoreResult<Applied> {
        let reply = match (&t.link, self.conn.is_cluster()) {
            // Another user owns the link already: the session fails, the link stays theirs.
            (Some(link), true) if self.owned_elsewhere(id, link).await? => {
                self.apply_script(id, &t.owned_elsewhere(), true).await?
            }
            (Some(link), true) => {
                let reply = self.apply_script(id, t, false).await?;
                self.claim_session_link(id, link, &reply).await?;
                reply
            }
            _ => self.apply_script(id, t, true).await?,
        };
        crate::store::funnel::counted_metrics(&reply.counted);
        let applied = reply.applied;
        // A terminal outcome (or its replay, whose first answer may have been a 503) is only
        // acknowledged once replicated.
        let settles = matches!(
            applied,
            Applied::Recorded { changed: true, .. } | Applied::Replay { .. }
        );
        if t.outcome.is_some() && settles {
            self.replicated().await?;
        }
        Ok(applied)
    }

    /// On a cluster, before a success is applied: whether its link has an owner other than the
    /// session's (both read at once, from their two slots). On a single server
    /// `apply_event.lua` checks this itself, atomically.
    async fn owned_elsewhere(&self, id: &SessionId, link: &LinkId) -> StoreResult<bool> {
        let (mut a, mut b) = (self.conn(), self.conn());
        let (holder, owner): (Option<String>, Option<String>) = self
            .run(futures_util::future::try_join(
                redis::Cmd::hget(self.keys.link(link), "owner").query_async(&mut a),
                redis::Cmd::hget(self.keys.session(id), "owner").query_async(&mut b),
            ))
            .await?;
        Ok(matches!((holder, owner), (Some(holder), Some(owner)) if holder != owner))
    }

    /// Runs `apply_event.lua`; `with_link` passes the link hash as KEYS[3] (a single server).
    /// An event this process saw recorded before is tried as a replay first
    /// (`replay_event.lua`: a few arguments instead of all of them); when Redis does not know it
    /// as one after all, the full script runs.
    async fn apply_script(
        &self,
        id: &SessionId,
        t: &Transition,
        with_link: bool,
    ) -> StoreResult<ScriptReply> {
        let hint = (*id, ReplayHint::of(&t.fingerprint));
        if let Some(platform) = self.replay_hints.get(&hint) {
            let mut conn = self.conn();
            let reply: redis::Value = self
                .run(
                    lua::REPLAY_EVENT
                        .key(self.keys.session(id))
                        .arg(&t.fingerprint)
                        .arg(t.now)
                        .arg(if with_link { "1" } else { "0" })
                        .invoke_async(&mut conn),
                )
                .await?;
            let reply = ScriptReply::parse_short(&reply, platform, "replay_event.lua")?;
            if !matches!(&reply, Some(r) if matches!(r.applied, Applied::Replay { .. })) {
                self.replay_hints.remove(&hint);
            }
            if let Some(reply) = reply {
                return Ok(reply);
            }
        }
        if let Some(reply) = self.late_script(id, t, with_link).await? {
            return Ok(reply);
        }
        let reply = self.full_apply_script(id, t, with_link).await?;
        if let Applied::Recorded {
            status: Status::Succeeded | Status::Exited | Status::Failed,
            platform,
            ..
        }
        | Applied::Replay {
            status: Status::Succeeded | Status::Exited | Status::Failed,
            platform,
        } = reply.applied
        {
            self.finished_hints.insert(*id, platform);
        }
        // What apps replay is the callback that changed their session (a retried deeplink), so
        // only that, or a replay this process had no hint for, is remembered: a stream of events
        // that change nothing would push those out.
        if let Applied::Recorded {
            platform,
            changed: true,
            ..
        }
        | Applied::Replay { platform, .. } = reply.applied
        {
            self.replay_hints.insert(hint, platform);
        }
        Ok(reply)
    }

    /// A new event on a session this process saw finished runs `late_event.lua`: its timeline
    /// entry (effect "ignored", made here) and nothing else, as `apply_event.lua` would. `None`
    /// when that does not apply: no hint, or Redis finds the session still pending; a success
    /// on a cluster (whose second step needs the full answer) and a warning without an outcome
    /// (kept on a finished session too) always take the full script.
    async fn late_script(
        &self,
        id: &SessionId,
        t: &Transition,
        with_link: bool,
    ) -> StoreResult<Option<ScriptReply>> {
        if !with_link || (t.outcome.is_none() && t.warning.is_some()) {
            return Ok(None);
        }
        let Some(platform) = self.finished_hints.get(id) else {
            return Ok(None);
        };
        let Some(entry) = codec::entry_with_effect(&t.timeline_entry, "ignored") else {
            return Ok(None);
        };
        let mut conn = self.conn();
        let reply: redis::Value = self
            .run(
                lua::LATE_EVENT
                    .key(self.keys.session(id))
                    .key(self.keys.timeline(id))
                    .arg(&t.fingerprint)
                    .arg(t.now)
                    .arg(entry)
                    .arg(MAX_EVENTS)
                    .invoke_async(&mut conn),
            )
            .await?;
        let reply = ScriptReply::parse_short(&reply, platform, "late_event.lua")?;
        if !matches!(
            &reply,
            Some(ScriptReply {
                applied: Applied::Recorded { .. } | Applied::Replay { .. },
                ..
            })
        ) {
            self.finished_hints.remove(id);
        }
        Ok(reply)
    }

    /// `apply_event.lua` with everything the event may change.
    async fn full_apply_script(
        &self,
        id: &SessionId,
        t: &Transition,
        with_link: bool,
    ) -> StoreResult<ScriptReply> {
        let entry = codec::json_text(&t.timeline_entry);
        let warning = t.warning.as_ref().map(codec::warning_json);
        let fields = codec::terminal_fields(t);
        let mut invocation = lua::APPLY_EVENT.prepare_invoke();
        invocation
            .key(self.keys.session(id))
            .key(self.keys.timeline(id));
        if let (true, Some(link)) = (with_link, &t.link) {
            invocation.key(self.keys.link(link));
        }
        // The event goes to the outbox of the session's shard: the same slot as its keys.
        if t.emit {
            invocation.key(self.keys.outbox_of(Shard::of_session(id)));
        }
        // The day's counters of the session's shard: the same slot as its keys.
        let day = Day::of_millis(t.now);
        if t.funnel.is_some() {
            invocation.key(self.keys.funnel(Shard::of_session(id), day));
        }
        invocation
            .arg(&t.fingerprint)
            .arg(t.now)
            .arg(t.outcome.map(Status::as_str).unwrap_or(""))
            .arg(warning.as_deref().unwrap_or(""))
            .arg(&entry)
            .arg(self.keys.events_channel())
            .arg(id.to_string())
            .arg(MAX_EVENTS)
            .arg(MAX_WARNINGS)
            .arg(if with_link { "1" } else { "0" })
            .arg(self.retention.sessions_ms())
            .arg(self.retention.links_ms())
            .arg(fields.len());
        for (field, value) in &fields {
            invocation.arg(*field).arg(value.as_ref());
        }
        invocation.arg(if t.emit { "1" } else { "0" });
        if let Some(funnel) = &t.funnel {
            invocation
                .arg(&funnel.step)
                .arg(&funnel.institution)
                .arg(day.expire_at_millis())
                .arg("1");
        }
        let mut conn = self.conn();
        let reply: Vec<redis::Value> = self.run(invocation.invoke_async(&mut conn)).await?;
        ScriptReply::parse(&reply)
    }

    /// The cluster's second step of a success: claims the link for the session when the session
    /// holds that link (just applied, or a replay — which repairs a second step that failed),
    /// and announces the change either way.
    async fn claim_session_link(
        &self,
        id: &SessionId,
        link: &LinkId,
        reply: &ScriptReply,
    ) -> StoreResult<()> {
        let recorded = matches!(reply.applied, Applied::Recorded { .. });
        let holds_link = matches!(
            reply.applied,
            Applied::Recorded {
                status: Status::Succeeded,
                ..
            } | Applied::Replay {
                status: Status::Succeeded,
                ..
            }
        ) && LinkId::parse(&reply.link_id).ok().as_ref() == Some(link);
        if !holds_link {
            if recorded {
                self.announce(id).await;
            }
            return Ok(());
        }
        let changed = matches!(reply.applied, Applied::Recorded { changed: true, .. });
        let mut conn = self.conn();
        let claimed = self
            .run(
                lua::CLAIM_SESSION_LINK
                    .key(self.keys.link(link))
                    .arg(id.to_string())
                    .arg(&reply.owner)
                    .arg(self.retention.links_ms())
                    .arg(if changed { "1" } else { "0" })
                    .arg(self.keys.events_channel())
                    .arg(if self.events { reply.sub.as_str() } else { "" })
                    .invoke_async::<i64>(&mut conn),
            )
            .await;
        if claimed.is_err() && recorded {
            // The session changed: wake its waiters even though the link is not claimed yet
            // (a replay of this callback claims it).
            self.announce(id).await;
        }
        claimed.map(|_| ())
    }

    /// Tells every replica that `id` changed; best effort (waiters also time out).
    pub(super) async fn announce(&self, id: &SessionId) {
        let mut conn = self.conn();
        let publish = conn.publish::<_, _, i64>(self.keys.events_channel(), id.to_string());
        let _ = self.run(publish).await;
    }
}

/// An event fingerprint, hashed: what the replay hints key a session's events by. Two events
/// sharing one only cost a wasted `replay_event.lua` (which checks the fingerprint itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ReplayHint(u64);

impl ReplayHint {
    fn of(fingerprint: &str) -> Self {
        use std::hash::{BuildHasher, BuildHasherDefault};
        Self(
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .hash_one(fingerprint),
        )
    }
}

/// What `apply_event.lua` (or `replay_event.lua`) answers.
struct ScriptReply {
    applied: Applied,
    /// The session's owner and link id (empty when missing or expired).
    owner: String,
    link_id: String,
    /// The funnel fields the event counted.
    counted: Vec<String>,
    /// The app's user id kept on the session ("" = none), for the link's own events.
    sub: String,
}

impl ScriptReply {
    /// The one-string answer of `replay_event.lua` or `late_event.lua` (`platform`: the
    /// session's, from the hint): `None` when the hint was wrong ("unseen": not a replay after
    /// all; "unfinished": the session is still pending), and nothing was written.
    fn parse_short(
        reply: &redis::Value,
        platform: Platform,
        script: &'static str,
    ) -> StoreResult<Option<Self>> {
        let answer = match reply {
            redis::Value::Array(reply) => return Self::parse(reply).map(Some),
            answer => redis::from_redis_value_ref::<String>(answer).unwrap_or_default(),
        };
        let corrupt = || StoreError::corrupt(script, format!("unexpected reply {answer:?}"));
        let applied = match answer.split_once(':') {
            None if matches!(answer.as_str(), "unseen" | "unfinished") => return Ok(None),
            None if answer == "missing" => Applied::Missing,
            None if answer == "expired" => Applied::Expired,
            Some((kind, status)) => {
                let status = status.parse::<Status>().map_err(|_| corrupt())?;
                match kind {
                    "replay" => Applied::Replay { status, platform },
                    "ignored" => Applied::Recorded {
                        status,
                        platform,
                        changed: false,
                    },
                    _ => return Err(corrupt()),
                }
            }
            None => return Err(corrupt()),
        };
        Ok(Some(Self {
            applied,
            owner: String::new(),
            link_id: String::new(),
            counted: Vec::new(),
            sub: String::new(),
        }))
    }

    fn parse(reply: &[redis::Value]) -> StoreResult<Self> {
        let text = |i: usize| -> String {
            reply
                .get(i)
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
                .unwrap_or_default()
        };
        Ok(Self {
            applied: parse_applied(reply)?,
            owner: text(4),
            link_id: text(5),
            counted: reply
                .get(6)
                .and_then(|v| redis::from_redis_value_ref::<Vec<String>>(v).ok())
                .unwrap_or_default(),
            sub: text(7),
        })
    }
}

fn parse_applied(reply: &[redis::Value]) -> StoreResult<Applied> {
    let text = |i: usize| -> String {
        reply
            .get(i)
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .unwrap_or_default()
    };
    let status = || {
        serde_json::from_value::<Status>(serde_json::Value::String(text(1)))
            .map_err(|_| StoreError::Corrupt(CorruptSession("status")))
    };
    let platform = || {
        text(3)
            .parse::<Platform>()
            .map_err(|_| StoreError::Corrupt(CorruptSession("platform")))
    };
    match text(0).as_str() {
        "missing" => Ok(Applied::Missing),
        "expired" => Ok(Applied::Expired),
        "replay" => Ok(Applied::Replay {
            status: status()?,
            platform: platform()?,
        }),
        "recorded" => Ok(Applied::Recorded {
            status: status()?,
            platform: platform()?,
            changed: text(2) == "1",
        }),
        other => Err(StoreError::corrupt(
            "apply_event.lua",
            format!("unexpected reply {other:?}"),
        )),
    }
}
