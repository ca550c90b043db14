//! A link's verification: what it reads of its session (with its place on the schedule, in one
//! round trip), then what it found, recorded by `record_verification.lua`: one script on a
//! single server. On a Redis Cluster the owner's link set, the due set and the attention index
//! live in other slots than the link, so the script writes the link's slot and the store writes
//! the others after it (at once, one pipeline per slot), then announces the verdict.

use redis::Cmd;

use super::RedisStore;
use crate::domain::funnel::Day;
use crate::domain::health::{Health, HealthChange, HealthTransition, MAX_HEALTH_HISTORY};
use crate::domain::ids::{LinkId, SessionId};
use crate::domain::session::{Millis, Session};
use crate::domain::shard::Shard;
use crate::domain::verification::Verification;
use crate::store::funnel::counted_metrics;
use crate::store::{codec, lua, DueEntry, StoreResult};

/// What `record_verification.lua` answers: claimed ("1", "0" or "" when not matched), whether
/// the link is the session's ("1"), the funnel fields counted, the health changes (four strings
/// each).
type Reply = (String, String, Vec<String>, Vec<String>);

impl RedisStore {
    /// The session's fields a verification reads, with the verification's `ZADD` when
    /// `schedule_until` is given: one pipeline on a single server, two commands sent together
    /// on a cluster (two slots).
    pub(super) async fn read_verification_session(
        &self,
        id: &SessionId,
        link: &LinkId,
        schedule_until: Option<Millis>,
    ) -> StoreResult<Option<Session>> {
        let read = Cmd::hmget(self.keys.session(id), codec::VERIFY_FIELDS);
        let values: Vec<Option<String>> = match schedule_until {
            None => {
                let mut conn = self.conn();
                self.run(read.query_async(&mut conn)).await?
            }
            Some(at) => {
                let entry = DueEntry::Verify {
                    session: *id,
                    link: *link,
                };
                let mut schedule = redis::cmd("ZADD");
                schedule.arg(self.keys.due()).arg(at).arg(entry.member());
                if self.conn.is_cluster() {
                    let (mut a, mut b) = (self.conn(), self.conn());
                    let ((), values) = self
                        .run(futures_util::future::try_join(
                            schedule.query_async::<()>(&mut a),
                            read.query_async(&mut b),
                        ))
                        .await?;
                    values
                } else {
                    let mut pipe = redis::pipe();
                    pipe.add_command(schedule).ignore().add_command(read);
                    let mut conn = self.conn();
                    let (values,): (Vec<Option<String>>,) =
                        self.run(pipe.query_async(&mut conn)).await?;
                    values
                }
            }
        };
        Ok(codec::verify_session_from_values(&values)?)
    }

    /// Runs `record_verification.lua`; on a cluster, then the other slots' writes and the
    /// announcement.
    pub(super) async fn record_verification_script(
        &self,
        v: &Verification,
    ) -> StoreResult<Vec<HealthTransition>> {
        let cluster = self.conn.is_cluster();
        let invocation = self.verification_invocation(v, cluster);
        let mut conn = self.conn();
        let (claimed, theirs, counted, changes): Reply =
            self.run(invocation.invoke_async(&mut conn)).await?;
        counted_metrics(&counted);
        let transitions = changes
            .chunks(4)
            .map(|change| self.transition(&v.link, change.to_vec(), v.now))
            .collect::<StoreResult<Vec<_>>>()?;
        if cluster {
            self.after_verification_script(v, claimed == "1", &transitions)
                .await?;
            if theirs == "1" {
                self.announce(&v.session).await;
            }
        }
        Ok(transitions)
    }

    /// The script's keys and arguments; on a single server with the keys of the other slots.
    fn verification_invocation(
        &self,
        v: &Verification,
        cluster: bool,
    ) -> redis::ScriptInvocation<'static> {
        let link = &v.link;
        let day = Day::of_millis(v.now);
        let mut invocation = lua::RECORD_VERIFICATION.prepare_invoke();
        invocation
            .key(self.keys.link(link))
            .key(self.keys.link_health_history(link))
            .key(self.keys.funnel(Shard::of_link(link), day))
            .key(self.keys.outbox_of(Shard::of_link(link)));
        if !cluster {
            invocation.key(self.keys.due());
            for health in Health::needing_attention() {
                invocation.key(self.keys.health_index(health));
            }
            if let Some(matched) = &v.matched {
                invocation.key(self.keys.user_links(&matched.claim.owner));
            }
        }
        invocation
            .arg(link.to_string())
            .arg(v.session.to_string())
            .arg(if v.matched.is_some() { "1" } else { "0" })
            .arg(v.now)
            .arg(day.expire_at_millis())
            .arg(if self.events { "1" } else { "0" })
            .arg(self.keys.events_channel())
            .arg(verify_member(v));
        let Some(matched) = &v.matched else {
            return invocation;
        };
        let claim = &matched.claim;
        let (status, message) = match matched.record {
            Some(record) => {
                let (_, status, message, _) =
                    super::health::script_args(&HealthChange::Record(record));
                (status, message)
            }
            None => (String::new(), String::new()),
        };
        invocation
            .arg(claim.owner.as_str())
            .arg(claim.product.as_str())
            .arg(&claim.institution)
            .arg(self.retention.links_ms())
            .arg(claim.funnel.as_deref().unwrap_or(""))
            .arg(if matched.reconnected { "1" } else { "0" })
            .arg(status)
            .arg(message)
            .arg(MAX_HEALTH_HISTORY)
            .arg(DueEntry::Check(*link).member())
            .arg(matched.first_check_at);
        if let Some(resources) = self.fetch_resources.get(claim.product.as_str()) {
            invocation.arg(resources);
        }
        invocation
    }

    /// A Redis Cluster's writes in the other slots, at once (one pipeline per slot): the
    /// owner's list when the script claimed the link, the first check and the verification's
    /// removal, the attention index of each change of health.
    async fn after_verification_script(
        &self,
        v: &Verification,
        claimed: bool,
        transitions: &[HealthTransition],
    ) -> StoreResult<()> {
        let link = v.link.to_string();
        let mut listed = Vec::new();
        let mut due = Vec::new();
        if let Some(matched) = &v.matched {
            if claimed {
                let list = self.keys.user_links(&matched.claim.owner);
                listed.push(Cmd::sadd(&list, &link));
                listed.push(Cmd::pexpire(&list, self.retention.links_ms()));
            }
            let mut schedule = redis::cmd("ZADD");
            schedule
                .arg(self.keys.due())
                .arg("NX")
                .arg(matched.first_check_at)
                .arg(DueEntry::Check(v.link).member());
            due.push(schedule);
        }
        due.push(Cmd::zrem(self.keys.due(), verify_member(v)));
        let moves = transitions
            .iter()
            .flat_map(|t| self.index_moves(t))
            .collect();
        self.write_by_slot([listed, due, moves]).await
    }
}

/// The verification's member in the due set.
fn verify_member(v: &Verification) -> String {
    DueEntry::Verify {
        session: v.session,
        link: v.link,
    }
    .member()
}
