//! Every Redis key name, in one place. A session's keys and a link's keys carry their shard's
//! cluster hash tag (`{sh:NN}`, SPEC §13), which is also the tag of the shard's outbox stream:
//! a script changes a session or a link and writes its event in a single slot. `docs/store.md` lays them all out
//! (type, TTL, hash tag, writer); a test below keeps that table and this file equal.

use crate::domain::external_id::ExternalId;
use crate::domain::funnel::Day;
use crate::domain::health::Health;
use crate::domain::ids::{LinkId, ProductName, SessionId};
use crate::domain::shard::Shard;
use crate::domain::staff::SessionTokenHash;

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// `<prefix>:{sh:NN}:<kind>:<id>`, a session's or a link's key, appended piece by piece:
    /// every request names two to five of them, and `format!` with the id's `Display` goes
    /// through `fmt` for each piece (about 1,400 instructions a key against some 300; issue 19).
    fn tagged(&self, shard: Shard, kind: &str, id: &uuid::Uuid) -> String {
        let tag = shard.tag();
        let mut key = String::with_capacity(
            self.prefix.len() + tag.len() + kind.len() + uuid::fmt::Hyphenated::LENGTH + 3,
        );
        key.push_str(&self.prefix);
        key.push(':');
        key.push_str(tag);
        key.push(':');
        key.push_str(kind);
        key.push(':');
        key.push_str(
            id.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
        key
    }

    /// The prefix every key starts with (and then `:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Hash holding the session's fields.
    pub fn session(&self, id: &SessionId) -> String {
        self.tagged(Shard::of_session(id), "session", id.as_uuid())
    }

    /// String held while one replica renews the session's widget token (`/w/`).
    pub fn renewal(&self, id: &SessionId) -> String {
        self.tagged(Shard::of_session(id), "renewing", id.as_uuid())
    }

    /// String holding the session's current widget token (`/w/`), under the session's hash tag;
    /// it expires with the token (never after the session). Kept apart from the session hash: at
    /// ~700 bytes it would turn the whole hash from a compact listpack into a hashtable.
    pub fn widget_token(&self, id: &SessionId) -> String {
        self.tagged(Shard::of_session(id), "token", id.as_uuid())
    }

    /// List holding the session's timeline.
    pub fn timeline(&self, id: &SessionId) -> String {
        self.tagged(Shard::of_session(id), "timeline", id.as_uuid())
    }

    /// Hash holding a link's owner, session, resource readiness and verification.
    pub fn link(&self, link: &LinkId) -> String {
        self.tagged(Shard::of_link(link), "link", link.as_uuid())
    }

    /// List holding a link's webhook timeline.
    pub fn link_timeline(&self, link: &LinkId) -> String {
        self.tagged(Shard::of_link(link), "link-timeline", link.as_uuid())
    }

    /// Sorted set of the latest webhook ids recorded on a link (by time), for deduplication.
    pub fn link_webhook_ids(&self, link: &LinkId) -> String {
        self.tagged(Shard::of_link(link), "webhook-ids", link.as_uuid())
    }

    /// List of a link's health changes (JSON), newest first, bounded.
    pub fn link_health_history(&self, link: &LinkId) -> String {
        self.tagged(Shard::of_link(link), "health-history", link.as_uuid())
    }

    /// Sorted set of the links whose health is `health` (not `ok`), by the time it changed:
    /// the support console's "needs attention" lists. All under one hash tag, so a link moves
    /// from one to another in one step.
    pub fn health_index(&self, health: Health) -> String {
        format!("{}:{{health}}:{health}", self.prefix)
    }

    /// Sorted set of due times (ms): link checks and unfinished verifications, claimed by the
    /// scheduler of any replica (`claim_due.lua`).
    pub fn due(&self) -> String {
        format!("{}:{{due}}:entries", self.prefix)
    }

    /// Counter of due entries claimed during one second, by all replicas (`links.check_rate`).
    pub fn due_rate(&self, second: i64) -> String {
        format!("{}:{{due}}:rate:{second}", self.prefix)
    }

    /// Hash of each institution's latest status-page report (code → JSON), SPEC §14.
    pub fn institution_status(&self) -> String {
        format!("{}:{{institutions}}:status-page", self.prefix)
    }

    /// Sorted set of the widget's health signals for one institution (member → time, ms),
    /// trimmed to `institutions.window`.
    pub fn institution_signals(&self, code: &str) -> String {
        format!("{}:{{institutions}}:signals:{code}", self.prefix)
    }

    /// Sorted set of a user's sessions, by creation time.
    pub fn user_sessions(&self, owner: &ExternalId) -> String {
        format!("{}:{{u:{owner}}}:sessions", self.prefix)
    }

    /// Set of a user's links.
    pub fn user_links(&self, owner: &ExternalId) -> String {
        format!("{}:{{u:{owner}}}:links", self.prefix)
    }

    /// Hash of one shard's funnel counters for one day (SPEC §14): field
    /// `product|platform|mode|institution|step` → count. Readers sum every shard.
    pub fn funnel(&self, shard: Shard, day: Day) -> String {
        format!("{}:{}:funnel:{day}", self.prefix, shard.tag())
    }

    /// Hash of one finished day's funnel counters, every shard summed (written once by the first
    /// reader after the day settles, so a long range reads one hash per day). Field `_` marks it.
    pub fn funnel_day(&self, day: Day) -> String {
        format!("{}:funnel-day:{day}", self.prefix)
    }

    /// Counter of attempts for a hashed subject (e.g. a username) in a time window.
    pub fn attempts(&self, subject: &str) -> String {
        format!("{}:{{a:{subject}}}:attempts", self.prefix)
    }

    /// A user's Belvo token requests counted in the window of `window_ms` (all of a user's
    /// windows under one hash tag, so they are counted in one script).
    pub fn token_requests(&self, user: &ExternalId, window_ms: u128) -> String {
        format!("{}:{{t:{user}}}:tokens:{window_ms}", self.prefix)
    }

    /// Set of distinct members noted for `subject` in its window (e.g. usernames a user tried).
    pub fn distinct(&self, subject: &str) -> String {
        format!("{}:{{a:{subject}}}:distinct", self.prefix)
    }

    /// Pub/sub channel announcing changed sessions.
    pub fn events_channel(&self) -> String {
        format!("{}:session-events", self.prefix)
    }

    /// Stream of a shard's outbound events waiting for delivery (SPEC §13), one consumer group
    /// per endpoint: an event goes to the stream of the session or link whose change causes it.
    pub fn outbox_of(&self, shard: Shard) -> String {
        format!("{}:{}:outbox", self.prefix, shard.tag())
    }

    /// Stream of a shard's dead deliveries (an endpoint that did not take one of the shard's
    /// events within `max_age`), beside its outbox so both change in one step.
    pub fn outbox_dead_of(&self, shard: Shard) -> String {
        format!("{}:{}:outbox:dead", self.prefix, shard.tag())
    }

    /// The single outbox stream of the layout before shards: still delivered from (and no
    /// longer written to by this version) until it is empty.
    pub fn legacy_outbox(&self) -> String {
        format!("{}:outbox", self.prefix)
    }

    /// The dead stream beside [`Self::legacy_outbox`].
    pub fn legacy_outbox_dead(&self) -> String {
        format!("{}:outbox:dead", self.prefix)
    }

    /// String naming the key layout this data is in (`shards`), written once every key of the
    /// layout before shards was moved (`migrate-keys`); a start-up then skips the scan.
    pub fn layout(&self) -> String {
        format!("{}:layout", self.prefix)
    }

    // Staff console (see `staff.rs`). Branding keys share one hash tag so a save is one script.

    /// String holding a console session (JSON), by the hash of its cookie.
    pub fn staff_session(&self, id: &SessionTokenHash) -> String {
        format!("{}:staff-session:{}", self.prefix, id.as_str())
    }

    /// List of audit entries (JSON), newest first: staff actions, or refused sign-ins.
    pub fn audit_log(&self, log: super::AuditLog) -> String {
        match log {
            super::AuditLog::Staff => format!("{}:audit", self.prefix),
            super::AuditLog::Refused => format!("{}:audit:refused", self.prefix),
        }
    }

    /// Hash of product → its current branding version (JSON).
    pub fn branding_current(&self) -> String {
        format!("{}:{{branding}}:current", self.prefix)
    }

    /// List of a product's branding versions (JSON), newest first.
    pub fn branding_history(&self, product: &ProductName) -> String {
        format!("{}:{{branding}}:history:{product}", self.prefix)
    }

    /// Pub/sub channel announcing saved branding.
    pub fn branding_channel(&self) -> String {
        format!("{}:branding-events", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_share_a_hash_tag() {
        let keys = Keys::new("bff");
        let id = SessionId::generate();
        let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_owned();
        assert_eq!(tag(&keys.session(&id)), tag(&keys.timeline(&id)));
        let link = LinkId::new_random();
        assert_eq!(tag(&keys.link(&link)), tag(&keys.link_timeline(&link)));
        assert_eq!(tag(&keys.link(&link)), tag(&keys.link_webhook_ids(&link)));
        assert_eq!(
            tag(&keys.link(&link)),
            tag(&keys.link_health_history(&link))
        );
        assert_eq!(tag(&keys.due()), tag(&keys.due_rate(5)));
        assert!(keys.session(&id).starts_with("bff:"));
        // Each writes its event to the outbox of its own shard, in its slot.
        let session_shard = Shard::of_session(&id);
        assert_eq!(tag(&keys.session(&id)), session_shard.tag());
        assert_eq!(tag(&keys.renewal(&id)), session_shard.tag());
        assert_eq!(tag(&keys.widget_token(&id)), session_shard.tag());
        assert_eq!(tag(&keys.outbox_of(session_shard)), session_shard.tag());
        let link_shard = Shard::of_link(&link);
        assert_eq!(tag(&keys.link(&link)), link_shard.tag());
        assert_eq!(tag(&keys.outbox_dead_of(link_shard)), link_shard.tag());
        // Two ids of one shard never share a key.
        assert_ne!(keys.session(&id), keys.session(&SessionId::generate()));
    }

    #[test]
    fn session_and_link_keys_are_spelled_as_ever() {
        let keys = Keys::new("bff");
        for _ in 0..20 {
            let (id, link) = (SessionId::generate(), LinkId::new_random());
            let (s, l) = (Shard::of_session(&id).tag(), Shard::of_link(&link).tag());
            assert_eq!(keys.session(&id), format!("bff:{s}:session:{id}"));
            assert_eq!(keys.renewal(&id), format!("bff:{s}:renewing:{id}"));
            assert_eq!(keys.widget_token(&id), format!("bff:{s}:token:{id}"));
            assert_eq!(keys.timeline(&id), format!("bff:{s}:timeline:{id}"));
            assert_eq!(keys.link(&link), format!("bff:{l}:link:{link}"));
            assert_eq!(
                keys.link_timeline(&link),
                format!("bff:{l}:link-timeline:{link}")
            );
            assert_eq!(
                keys.link_webhook_ids(&link),
                format!("bff:{l}:webhook-ids:{link}")
            );
            assert_eq!(
                keys.link_health_history(&link),
                format!("bff:{l}:health-history:{link}")
            );
        }
    }

    /// The layout table's rows, by their first cell (the `Keys` function): every cell of each.
    fn layout_table() -> std::collections::HashMap<&'static str, Vec<&'static str>> {
        include_str!("../../docs/store.md")
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                (cells[0].trim_matches('`'), cells)
            })
            .collect()
    }

    /// The key functions of [`Keys`], read from this file.
    fn key_functions() -> Vec<&'static str> {
        include_str!("keys.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub fn "))
            .map(|rest| &rest[..rest.find('(').unwrap()])
            .filter(|name| !["new", "prefix"].contains(name))
            .collect()
    }

    #[test]
    fn every_key_is_in_the_layout_table() {
        let table = layout_table();
        let functions = key_functions();
        assert!(functions.len() >= 16, "{functions:?}");
        for name in &functions {
            let row = table
                .get(name)
                .unwrap_or_else(|| panic!("Keys::{name} is missing from docs/store.md"));
            assert_eq!(row.len(), 6, "docs/store.md's row for {name}: {row:?}");
            let ttl = row[3];
            assert!(!ttl.is_empty(), "docs/store.md gives Keys::{name} no TTL");
            if let Some(why) = ttl.strip_prefix("none") {
                assert!(
                    why.starts_with(": ") && why.len() > 20,
                    "Keys::{name} has no TTL and docs/store.md does not say why: {ttl:?}"
                );
            }
            assert!(
                !row[5].is_empty(),
                "docs/store.md: who writes Keys::{name}?"
            );
        }
        for documented in table.keys() {
            assert!(
                functions.contains(documented),
                "docs/store.md lays out `{documented}`, which Keys does not have"
            );
        }
    }
}
