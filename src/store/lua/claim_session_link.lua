-- The second step of a success callback on a Redis Cluster (the first is `apply_event.lua`,
-- whose KEYS[3] block this mirrors): the link hash is in another slot than the session's keys.
-- The first session to report a link owns it; a second claim changes nothing there. Announces
-- the session's change either way.
--
-- KEYS[1] link hash
-- ARGV[1] session id
-- ARGV[2] owner (the session's external id)
-- ARGV[3] ttl, ms (the link's retention)
-- ARGV[4] refresh: "1" when the success was just applied, so the link is kept its retention
--         from now even when another session holds it
-- ARGV[5] events channel
-- ARGV[6] the app's user id (`sub`) for the link's own events ("" = none kept)
-- Reply: 1
local link, session_id, owner, ttl = KEYS[1], ARGV[1], ARGV[2], math.max(tonumber(ARGV[3]), 1)
if redis.call('HSETNX', link, 'session', session_id) == 1 then
  -- Its owner never changes (the store checked it before the session was finished).
  redis.call('HSETNX', link, 'owner', owner)
  if ARGV[6] ~= '' then redis.call('HSET', link, 'sub', ARGV[6]) end
  redis.call('PEXPIRE', link, ttl)
elseif ARGV[4] == '1' and redis.call('PTTL', link) < ttl then
  redis.call('PEXPIRE', link, ttl)
end
redis.call('PUBLISH', ARGV[5], session_id)
return 1
