-- Marks a link verified against Belvo when it belongs to the given session, and wakes that
-- session's waiters. An existing hash carries the TTL: this never creates one without expiry.
-- A verdict not yet announced (`verdict`) writes `link.verified` or `link.verification_failed` (SPEC §13) in the same
-- step when events go out; a positive one counts the funnel's `link_verified` step (SPEC §14),
-- events or not, so once per link.
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
local counted = ''
if redis.call('HGET', KEYS[1], 'session') == ARGV[3] then
  redis.call('HSET', KEYS[1], 'verified', ARGV[1])
  -- `verified` may already be set by the link's claim: the verdict announced is kept apart.
  if redis.call('HGET', KEYS[1], 'verdict') ~= ARGV[1] then
    redis.call('HSET', KEYS[1], 'verdict', ARGV[1])
    local event_type = 'link.verification_failed'
    if ARGV[1] == '1' then
      event_type = 'link.verified'
      counted = count_link_step(KEYS[1], KEYS[2], 'link_verified', ARGV[6])
    end
    link_event(KEYS[3], KEYS[1], ARGV[4], event_type, ARGV[5], {})
  end
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return counted
