//! Shards (SPEC §13): a fixed number of Redis Cluster hash tags (`{sh:NN}`) that sessions and
//! links are spread over, so that a state change and what rides with it — its outbound event
//! in the shard's outbox stream, its funnel counters — live in one slot and change in one
//! script. The shard of a session or link is a pure function of its id, the same on every
//! replica and every version: changing [`Shard::COUNT`] or the hash is a key-layout change.

use super::ids::{LinkId, SessionId};

/// One of the [`Shard::COUNT`] shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard(u16);

impl Shard {
    /// How many shards there are. Fixed: keys, streams and counters are named after it.
    pub const COUNT: u16 = 16;

    /// The shard of a session (its keys, its events, its funnel counters).
    pub fn of_session(id: &SessionId) -> Self {
        Self::of_bytes(id.as_uuid().as_bytes())
    }

    /// The shard of a link (its keys and its events).
    pub fn of_link(id: &LinkId) -> Self {
        Self::of_bytes(id.as_uuid().as_bytes())
    }

    /// Every shard, in order: what a reader sums or a consumer reads.
    pub fn all() -> impl Iterator<Item = Shard> {
        (0..Self::COUNT).map(Shard)
    }

    /// The shard's number, `0..COUNT`.
    pub fn index(self) -> u16 {
        self.0
    }

    /// The Redis Cluster hash tag of the shard, e.g. `{sh:07}`.
    pub fn tag(self) -> &'static str {
        // Written out: every key name of every request holds one.
        const TAGS: [&str; Shard::COUNT as usize] = [
            "{sh:00}", "{sh:01}", "{sh:02}", "{sh:03}", "{sh:04}", "{sh:05}", "{sh:06}", "{sh:07}",
            "{sh:08}", "{sh:09}", "{sh:10}", "{sh:11}", "{sh:12}", "{sh:13}", "{sh:14}", "{sh:15}",
        ];
        TAGS[usize::from(self.0)]
    }

    /// FNV-1a over the id's bytes: stable across Rust versions (unlike `DefaultHasher`).
    fn of_bytes(bytes: &[u8]) -> Self {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        Shard((hash % u32::from(Self::COUNT)) as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_a_stable_function_of_the_id() {
        let id = LinkId::parse("0d3ffb69-f83b-456e-ad8e-208d0998d71d").unwrap();
        // Pinned: a different answer here means every stored key moved.
        assert_eq!(Shard::of_link(&id).index(), 6);
        assert_eq!(Shard::of_link(&id).tag(), "{sh:06}");
        assert_eq!(Shard::all().count(), usize::from(Shard::COUNT));
    }

    #[test]
    fn each_shard_has_its_own_two_digit_tag() {
        for shard in Shard::all() {
            assert_eq!(shard.tag(), format!("{{sh:{:02}}}", shard.index()));
        }
    }

    #[test]
    fn ids_spread_over_every_shard() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            seen.insert(Shard::of_session(&SessionId::generate()));
        }
        assert_eq!(seen.len(), usize::from(Shard::COUNT));
    }
}
