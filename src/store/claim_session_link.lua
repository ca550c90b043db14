-- The second step of a success callback on a Redis Cluster (the first is `apply_event.lua`,
-- whose KEYS[3] block this mirrors): the link hash is in another slot than the session's keys.
-- The first session to report a link owns it; a second claim changes nothing there.
--
-- KEYS[1] link hash
-- ARGV: session id, owner, ttl_ms (the session's), refresh ("1": the success was just applied,
--       so expire the link with its session even when another session holds it), channel
local link, session_id, owner, ttl = KEYS[1], ARGV[1], ARGV[2], math.max(tonumber(ARGV[3]), 1)
if redis.call('HSETNX', link, 'session', session_id) == 1 then
  redis.call('HSET', link, 'owner', owner)
  redis.call('PEXPIRE', link, ttl)
elseif ARGV[4] == '1' then
  redis.call('PEXPIRE', link, ttl)
end
redis.call('PUBLISH', ARGV[5], session_id)
return 1
