-- Marks a link verified against Belvo when it belongs to the given session, and wakes that
-- session's waiters. An existing hash carries the TTL: this never creates one without expiry.
--
-- KEYS[1] link hash
-- ARGV[1] verified value
-- ARGV[2] events channel
-- ARGV[3] session id
-- Reply: 1
if redis.call('HGET', KEYS[1], 'session') == ARGV[3] then
  redis.call('HSET', KEYS[1], 'verified', ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return 1
