//! [`LinkHealthStore`] in memory, as `apply_health.lua` and `claim_due.lua` do it: the facts in
//! the link's fields (same names as the Redis hash), the history, the attention index and the
//! due set beside the links.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::consent::{ConsentChange, DueDate};
use crate::domain::health::{
    BelvoRecord, Health, HealthChange, HealthReason, HealthTransition, MAX_HEALTH_HISTORY,
};
use crate::domain::ids::LinkId;
use crate::domain::session::Millis;
use crate::store::{ClaimRules, Claimed, DueEntry, LinkHealthStore, StoreResult};

/// The due set: entries by due time, and each entry's time.
#[derive(Default)]
pub(super) struct DueSet {
    by_time: BTreeSet<(Millis, String)>,
    times: HashMap<String, Millis>,
    /// The second of the latest claims and how many were taken in it.
    rate: (i64, u64),
}

impl DueSet {
    fn put(&mut self, member: String, at: Millis) {
        if let Some(old) = self.times.insert(member.clone(), at) {
            self.by_time.remove(&(old, member.clone()));
        }
        self.by_time.insert((at, member));
    }

    pub(super) fn remove(&mut self, member: &str) {
        if let Some(old) = self.times.remove(member) {
            self.by_time.remove(&(old, member.to_owned()));
        }
    }
}

/// Applies `change` to a link's fields and derives its health, as `apply_health.lua`.
/// Returns (from, to, reason code, reason message).
fn apply(
    f: &mut HashMap<String, String>,
    change: &HealthChange,
    now: Millis,
) -> (Option<Health>, Health, String, String) {
    let set_credentials = |f: &mut HashMap<String, String>, code: &str, message: &str| {
        f.insert("cred_code".into(), code.to_owned());
        f.insert("cred_message".into(), message.to_owned());
    };
    let clear_credentials = |f: &mut HashMap<String, String>| {
        f.remove("cred_code");
        f.remove("cred_message");
    };
    let consent_active = |f: &mut HashMap<String, String>| {
        f.insert("consent".into(), "active".into());
        f.insert("consent_changed_at".into(), now.to_string());
        for k in [
            "consent_code",
            "consent_message",
            "consent_due_at",
            "consent_renew",
            "consent_record_bad",
        ] {
            f.remove(k);
        }
    };
    let consent_now = f.get("consent").cloned().unwrap_or_default();
    let consent_blocked = consent_now == "consent_expired" || consent_now == "unavailable";
    match change {
        HealthChange::CredentialsFailed(reason) => set_credentials(
            f,
            &reason.code,
            reason.message.as_deref().unwrap_or_default(),
        ),
        HealthChange::Reconnected => clear_credentials(f),
        HealthChange::Record(record) => {
            f.insert("checked_at".into(), now.to_string());
            let exist = f.get("exist").cloned().unwrap_or_default();
            let has_problem = f.contains_key("cred_code");
            if !matches!(record, BelvoRecord::Valid | BelvoRecord::Missing) && consent_blocked {
                f.insert("consent_record_bad".into(), "1".into());
            }
            match record {
                BelvoRecord::Valid => {
                    clear_credentials(f);
                    if consent_blocked && f.get("consent_record_bad").is_some_and(|v| v == "1") {
                        consent_active(f);
                    }
                    if exist == "unconfirmed" {
                        f.remove("exist");
                    }
                }
                BelvoRecord::Invalid if !has_problem => set_credentials(
                    f,
                    "invalid_link",
                    "Belvo's record of the link reads invalid",
                ),
                BelvoRecord::TokenRequired if !has_problem => set_credentials(
                    f,
                    "token_required",
                    "Belvo's record of the link reads token_required",
                ),
                BelvoRecord::Invalid | BelvoRecord::TokenRequired => {}
                BelvoRecord::Unconfirmed if exist != "gone" => {
                    f.insert("exist".into(), "unconfirmed".into());
                }
                BelvoRecord::Unconfirmed => {}
                BelvoRecord::Missing => {
                    f.insert("exist".into(), "gone".into());
                }
            }
        }
        HealthChange::Consent(c) => apply_consent(f, c, now),
        HealthChange::DataArrived => {
            let millis = |k: &str| f.get(k).and_then(|v| v.parse::<Millis>().ok());
            let changed_at = millis("consent_changed_at").unwrap_or(0);
            let due_at = millis("consent_due_at");
            let renewed = (consent_blocked && now >= changed_at)
                || (consent_now == "consent_expiring" && due_at.is_some_and(|d| now > d));
            if renewed {
                consent_active(f);
            }
        }
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (cred_code, exist, consent) = (get("cred_code"), get("exist"), get("consent"));
    let consent_reason = || (get("consent_code"), get("consent_message"));
    let (to, (reason, message)) = if exist == "gone" {
        (Health::Gone, ("link_gone".to_owned(), String::new()))
    } else if consent == "consent_expired" {
        (Health::ConsentExpired, consent_reason())
    } else if !cred_code.is_empty() {
        (Health::NeedsReconnect, (cred_code, get("cred_message")))
    } else if exist == "unconfirmed" {
        (
            Health::Unavailable,
            ("link_unconfirmed".to_owned(), String::new()),
        )
    } else if consent == "unavailable" {
        (Health::Unavailable, consent_reason())
    } else if consent == "consent_expiring" {
        (Health::ConsentExpiring, consent_reason())
    } else {
        (Health::Ok, (String::new(), String::new()))
    };
    let from = f.get("health").and_then(|h| Health::parse(h));
    f.insert("health".into(), to.to_string());
    f.insert("health_code".into(), reason.clone());
    f.insert("health_message".into(), message.clone());
    if from.unwrap_or(Health::Ok) != to {
        f.insert("health_changed_at".into(), now.to_string());
    }
    (from, to, reason, message)
}

/// A CONSENT webhook's change to the link's consent fields, as `apply_health.lua`.
fn apply_consent(f: &mut HashMap<String, String>, c: &ConsentChange, now: Millis) {
    match c.state.reason_code() {
        None => {
            for k in ["consent_code", "consent_message", "consent_renew"] {
                f.remove(k);
            }
        }
        Some(code) => {
            f.insert("consent_code".into(), code.to_owned());
            f.insert("consent_message".into(), String::new());
        }
    }
    f.insert("consent".into(), c.state.stored().to_owned());
    f.insert("consent_changed_at".into(), now.to_string());
    f.remove("consent_record_bad");
    if let Some(id) = &c.consent_id {
        f.insert("consent_id".into(), id.clone());
    }
    match c.due {
        DueDate::Absent => {}
        DueDate::Unreadable => {
            f.remove("consent_due_at");
        }
        DueDate::At(at) => {
            f.insert("consent_due_at".into(), at.to_string());
        }
    }
    if let Some(renew) = &c.renew {
        let json = serde_json::to_string(renew).expect("renewal details serialise");
        f.insert("consent_renew".into(), json);
    }
}

#[async_trait]
impl LinkHealthStore for MemoryStore {
    async fn apply_health(
        &self,
        link: &LinkId,
        change: &HealthChange,
        now: Millis,
    ) -> StoreResult<Option<HealthTransition>> {
        let mut inner = self.lock();
        let Some(entry) = inner
            .links
            .get_mut(link)
            .filter(|e| e.expires > Instant::now())
        else {
            return Ok(None);
        };
        let (from, to, reason, message) = apply(&mut entry.fields, change, now);
        let transition = HealthTransition {
            link: *link,
            from,
            to,
            reason: (!reason.is_empty()).then(|| HealthReason {
                code: reason.clone(),
                message: (!message.is_empty()).then(|| message.clone()),
            }),
            at: now,
        };
        if transition.changed() {
            let history = inner.health_history.entry(*link).or_default();
            history.insert(
                0,
                serde_json::json!({
                    "at": now, "from": from.unwrap_or(Health::Ok), "to": to,
                    "code": reason, "message": message,
                }),
            );
            history.truncate(MAX_HEALTH_HISTORY);
            if let Some(from) = from {
                if let Some(index) = inner.health_index.get_mut(&from) {
                    index.remove(link);
                }
            }
            if to != Health::Ok {
                inner.health_index.entry(to).or_default().insert(*link, now);
            }
            if let (true, Some(event)) = (self.events, transition.event()) {
                let super::Inner { links, outbox, .. } = &mut *inner;
                if let Some(entry) = links.get_mut(link) {
                    let extra = [("health", to.as_str()), ("reason", reason.as_str())];
                    outbox.add_link_event(&mut entry.fields, &link.to_string(), event, now, &extra);
                }
            }
        }
        Ok(Some(transition))
    }

    async fn health_history(&self, link: &LinkId) -> StoreResult<Vec<serde_json::Value>> {
        let inner = self.lock();
        let alive = inner
            .links
            .get(link)
            .is_some_and(|e| e.expires > Instant::now());
        Ok(alive
            .then(|| inner.health_history.get(link).cloned())
            .flatten()
            .unwrap_or_default())
    }

    async fn links_with_health(
        &self,
        health: Health,
        limit: usize,
    ) -> StoreResult<Vec<(LinkId, Millis)>> {
        let inner = self.lock();
        let mut links: Vec<(LinkId, Millis)> = inner
            .health_index
            .get(&health)
            .map(|index| index.iter().map(|(l, at)| (*l, *at)).collect())
            .unwrap_or_default();
        // As ZREVRANGE: newest first, ties by member descending.
        links.sort_by_key(|(link, at)| std::cmp::Reverse((*at, link.to_string())));
        links.truncate(limit);
        Ok(links)
    }

    async fn schedule(&self, entry: &DueEntry, at: Millis, replace: bool) -> StoreResult<()> {
        let mut inner = self.lock();
        let member = entry.member();
        if replace || !inner.due.times.contains_key(&member) {
            inner.due.put(member, at);
        }
        Ok(())
    }

    async fn claim_due(&self, now: Millis, rules: ClaimRules) -> StoreResult<Claimed> {
        let mut inner = self.lock();
        let due = &mut inner.due;
        let second = now.div_euclid(1000);
        if due.rate.0 != second {
            due.rate = (second, 0);
        }
        let room = (rules.batch as u64).min(rules.rate_per_second.saturating_sub(due.rate.1));
        let members: Vec<String> = due
            .by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(room as usize)
            .map(|(_, m)| m.clone())
            .collect();
        for member in &members {
            let next = if member.starts_with("c:") {
                now + rules.check_every_ms
            } else {
                now + rules.verify_lease_ms
            };
            due.put(member.clone(), next);
        }
        due.rate.1 += members.len() as u64;
        let overdue_ms = due
            .by_time
            .first()
            .filter(|(at, _)| *at < now)
            .map_or(0, |(at, _)| now - at);
        Ok(Claimed {
            entries: members.iter().filter_map(|m| DueEntry::parse(m)).collect(),
            overdue_ms,
        })
    }

    async fn forget_link_health(&self, link: &LinkId) -> StoreResult<()> {
        let mut inner = self.lock();
        for index in inner.health_index.values_mut() {
            index.remove(link);
        }
        inner.due.remove(&DueEntry::Check(*link).member());
        Ok(())
    }

    async fn unschedule(&self, entry: &DueEntry) -> StoreResult<()> {
        self.lock().due.remove(&entry.member());
        Ok(())
    }
}
