-- Marks a link verified against Belvo when it belongs to the given session, and wakes that
-- session's waiters. An existing hash carries the TTL: this never creates one without expiry.
-- A verdict not yet announced (`verdict`) writes `link.verified` or `link.verification_failed` (SPEC §13) in the same
-- step when events go out; a positive one counts the funnel's `link_verified` step (SPEC §14),
-- events or not, so once per link. The step itself is `set_verdict` in `link_steps.lua`.
--
-- KEYS[1] link hash
-- KEYS[2] the day's funnel counters hash of the link's shard (the link's hash tag)
-- KEYS[3] outbox stream, only when events go out
-- ARGV[1] verified value ("1" or "0")
-- ARGV[2] events channel
-- ARGV[3] session id
-- ARGV[4] link id
-- ARGV[5] now, ms
-- ARGV[6] the counters' expiry (unix ms, PEXPIREAT)
-- Reply: the funnel field counted, or "" (none)
local theirs, counted = set_verdict(KEYS[1], KEYS[2], KEYS[3], ARGV[4], ARGV[3], ARGV[1], ARGV[5],
  ARGV[6])
if theirs then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return counted
