//! [`Sessions`] on Redis: a session is a hash (read whole, see [`RedisStore::read_session`]) and
//! a timeline list under the session's hash tag; a user's sessions a capped sorted set.
//! Applying an event is in `apply.rs`.

use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, Cmd};
use tokio::sync::broadcast;

use super::{RedisStore, MAX_USER_SESSIONS};
use crate::domain::external_id::ExternalId;
use crate::domain::funnel::Day;
use crate::domain::ids::SessionId;
use crate::domain::session::{
    AccessToken, Applied, Millis, NewSession, Session, Transition, WidgetOpening,
};
use crate::domain::shard::Shard;
use crate::store::codec;
use crate::store::{lua, Expiry, Links, SessionWithLink, Sessions, StoreError, StoreResult};

#[async_trait]
impl Sessions for RedisStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let key = self.keys.session(&session.id);
        let ttl = self
            .retention
            .session_ms_from_creation(session.created_at, session.deadline);
        let index = self.keys.user_sessions(&session.owner);
        let day = Day::of_millis(session.created_at);
        let funnel = self.keys.funnel(Shard::of_session(&session.id), day);
        let created = codec::created_funnel_field(session);
        // The session, its widget token and its shard's counters share a slot: one group, one
        // step.
        let mut own = vec![
            Cmd::hset_multiple(&key, &codec::new_session_fields(session)),
            Cmd::pexpire(&key, ttl),
            Cmd::hincr(&funnel, &created, 1),
            Cmd::pexpire_at(&funnel, day.expire_at_millis()),
        ];
        // The token lives until it expires, never longer than the session.
        let token_ms = (session.token_expires_at - session.created_at).min(ttl);
        if let Some(token) = session.token.as_ref().filter(|_| token_ms > 0) {
            own.push(
                redis::cmd("SET")
                    .arg(self.keys.widget_token(&session.id))
                    .arg(codec::encode_widget_token(&token.0))
                    .arg("PX")
                    .arg(token_ms)
                    .to_owned(),
            );
        }
        self.write_by_slot([
            own,
            vec![
                Cmd::zadd(&index, session.id.to_string(), session.created_at),
                Cmd::zremrangebyrank(&index, 0, -(MAX_USER_SESSIONS as isize) - 1),
                Cmd::pexpire(&index, ttl),
            ],
        ])
        .await?;
        crate::store::funnel::counted_metrics(&[created]);
        Ok(())
    }

    async fn user_sessions(&self, owner: &ExternalId, limit: usize) -> StoreResult<Vec<SessionId>> {
        let mut conn = self.conn();
        let ids: Vec<String> = self
            .run(conn.zrevrange(self.keys.user_sessions(owner), 0, limit as isize - 1))
            .await?;
        Ok(ids
            .iter()
            .filter_map(|s| SessionId::parse(s).ok())
            .collect())
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let mut conn = self.conn();
        let reply: redis::Value = self
            .run(self.read_session(id).query_async(&mut conn))
            .await?;
        Ok(codec::session_from_pairs(codec::hash_pairs(reply))?)
    }

    async fn session_with_link(&self, id: &SessionId) -> StoreResult<Option<SessionWithLink>> {
        let Some(link) = self.link_hints.get(id) else {
            // The first read of this session here: learn which link it names, if any.
            let Some(session) = self.session(id).await? else {
                return Ok(None);
            };
            let link = match session.link_id {
                Some(link_id) => {
                    self.link_hints.insert(*id, link_id);
                    self.link(&link_id).await?
                }
                None => None,
            };
            return Ok(Some(SessionWithLink { session, link }));
        };
        let read_session = self.read_session(id);
        let read_link = Cmd::hgetall(self.keys.link(&link));
        let (session_reply, link_reply): (redis::Value, redis::Value) = if self.conn.is_cluster() {
            // Two slots, likely two nodes: both commands at once.
            let (mut a, mut b) = (self.conn(), self.conn());
            self.run(futures_util::future::try_join(
                read_session.query_async(&mut a),
                read_link.query_async(&mut b),
            ))
            .await?
        } else {
            let mut pipe = redis::pipe();
            pipe.add_command(read_session).add_command(read_link);
            let mut conn = self.conn();
            self.run(pipe.query_async(&mut conn)).await?
        };
        let Some(session) = codec::session_from_pairs(codec::hash_pairs(session_reply))? else {
            self.link_hints.remove(id);
            return Ok(None);
        };
        if session.link_id != Some(link) {
            // Never expected (a session names its link once), but never show another link.
            self.link_hints.remove(id);
            return self.session_with_link(id).await;
        }
        let link = codec::link_from_reply(link_reply);
        Ok(Some(SessionWithLink { session, link }))
    }

    async fn apply(&self, id: &SessionId, t: &Transition) -> StoreResult<Applied> {
        self.apply_event(id, t).await
    }

    async fn open_widget(&self, id: &SessionId, now: Millis) -> StoreResult<WidgetOpening> {
        let day = Day::of_millis(now);
        // The day's counters of the session's shard: the same slot as the session.
        let mut invocation = lua::OPEN_WIDGET.prepare_invoke();
        invocation
            .key(self.keys.session(id))
            .key(self.keys.funnel(Shard::of_session(id), day))
            .key(self.keys.widget_token(id))
            .arg(now)
            .arg(day.expire_at_millis());
        for field in codec::widget_fields() {
            invocation.arg(field);
        }
        let mut conn = self.conn();
        // Bytes: the token is kept compact, not as text (`codec::encode_widget_token`).
        let reply: Vec<Option<Vec<u8>>> = self.run(invocation.invoke_async(&mut conn)).await?;
        let mut reply = reply.into_iter();
        let mut text = || reply.next().flatten().map(String::from_utf8);
        let (result, counted) = (text(), text());
        let counted: Vec<String> = counted
            .and_then(Result::ok)
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect();
        crate::store::funnel::counted_metrics(&counted);
        let session = || -> StoreResult<Session> {
            codec::widget_session_from_values(reply.collect())?.ok_or_else(|| {
                StoreError::corrupt(self.keys.session(id), "open_widget.lua read no fields")
            })
        };
        match result.and_then(Result::ok).as_deref() {
            Some("missing") => Ok(WidgetOpening::Missing),
            Some("open") => Ok(WidgetOpening::Open(session()?)),
            Some("closed") => Ok(WidgetOpening::Closed(session()?)),
            other => Err(StoreError::corrupt(
                self.keys.session(id),
                format!("unexpected open_widget.lua reply {other:?}"),
            )),
        }
    }

    async fn begin_renewal(&self, id: &SessionId, hold: Duration) -> StoreResult<bool> {
        let mut conn = self.conn();
        let set: Option<String> = self
            .run(
                redis::cmd("SET")
                    .arg(self.keys.renewal(id))
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(hold.as_millis() as u64)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn store_token(
        &self,
        id: &SessionId,
        token: &AccessToken,
        expires_at: Millis,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(
            lua::STORE_TOKEN
                .key(self.keys.session(id))
                .key(self.keys.renewal(id))
                .key(self.keys.widget_token(id))
                .arg(codec::encode_widget_token(&token.0))
                .arg(expires_at)
                .arg(crate::domain::session::now_millis())
                .invoke_async::<i64>(&mut conn),
        )
        .await
        .map(|_| ())
    }

    async fn expire_session(&self, id: &SessionId, now: Millis) -> StoreResult<Expiry> {
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .run(
                lua::EXPIRE_SESSION
                    .key(self.keys.session(id))
                    // The same slot as the session's keys.
                    .key(self.keys.outbox_of(Shard::of_session(id)))
                    .arg(now)
                    .arg(id.to_string())
                    .arg(self.keys.events_channel())
                    .invoke_async(&mut conn),
            )
            .await?;
        match reply.as_slice() {
            [result] if result == "expired" => Ok(Expiry::Expired),
            [result] if result == "nothing" => Ok(Expiry::Nothing),
            [result, deadline] if result == "not_yet" => deadline
                .parse()
                .map(Expiry::NotYet)
                .map_err(|_| StoreError::corrupt(self.keys.session(id), "deadline")),
            _ => Err(StoreError::corrupt(
                self.keys.session(id),
                "expire_session.lua reply",
            )),
        }
    }

    async fn current_token(&self, id: &SessionId) -> StoreResult<Option<(AccessToken, Millis)>> {
        // Both keys share a slot: one pipeline, one round trip (on a cluster too).
        let mut pipe = redis::pipe();
        pipe.get(self.keys.widget_token(id)).hmget(
            self.keys.session(id),
            &[codec::LEGACY_TOKEN_FIELD, "token_expires_at"],
        );
        let mut conn = self.conn();
        let (token, (legacy, expires_at)): (Option<Vec<u8>>, (Option<Vec<u8>>, Option<String>)) =
            self.run(pipe.query_async(&mut conn)).await?;
        let Some((stored, expires_at)) = token
            .or(legacy)
            .zip(expires_at.and_then(|e| e.parse().ok()))
        else {
            return Ok(None);
        };
        let token = codec::decode_widget_token(&stored)
            .map_err(|e| StoreError::corrupt(self.keys.widget_token(id), e))?;
        Ok(Some((AccessToken(token), expires_at)))
    }

    async fn end_renewal(&self, id: &SessionId) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.del::<_, i64>(self.keys.renewal(id)))
            .await
            .map(|_| ())
    }

    async fn timeline(&self, id: &SessionId) -> StoreResult<Vec<serde_json::Value>> {
        let mut conn = self.conn();
        let raw: Vec<String> = self.run(conn.lrange(self.keys.timeline(id), 0, -1)).await?;
        Ok(raw
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map(|_| ())
    }

    fn subscribe(&self) -> broadcast::Receiver<SessionId> {
        self.changes.subscribe()
    }
}

impl RedisStore {
    /// Reads a session's hash whole (HGETALL), its dedupe markers included. The hash is a
    /// listpack (every value fits in 64 bytes since the widget token has a key of its own), in
    /// which an HMGET looks for each of the 24 fields from the start, a missing one through the
    /// whole hash: twice the Redis work of one pass over it (measured: 53k instructions against
    /// 26k for a finished session, BENCHMARKS.md).
    fn read_session(&self, id: &SessionId) -> Cmd {
        Cmd::hgetall(self.keys.session(id))
    }
}
