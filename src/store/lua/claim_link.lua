-- Records a link Belvo confirmed as its owner's (verified, with product and institution),
-- unless another owner holds it, and keeps it for at least the ttl from now. Webhooks that came
-- before the claim may have made every fetch resource of the product ready already: then the
-- claim writes `link.resources_ready` (SPEC §13, once per link; `resources_ready` in the prelude).
-- A session's claim keeps its funnel counter prefix on the link (`funnel`, the first session's),
-- under which the link's own steps count (SPEC §14).
--
-- KEYS[1] link hash
-- KEYS[2] the day's funnel counters hash of the link's shard (the link's hash tag)
-- KEYS[3] outbox stream, only when events go out
-- ARGV[1] owner (external id)
-- ARGV[2] product
-- ARGV[3] institution
-- ARGV[4] ttl, ms
-- ARGV[5] link id
-- ARGV[6] now, ms
-- ARGV[7] the claiming session's funnel counter prefix ("" = none: a link made through the API)
-- ARGV[8] the counters' expiry (unix ms, PEXPIREAT)
-- ARGV[9] ... the product's fetch resources
-- Reply: {1, the funnel field counted or ""} when claimed, {0, ""} when another owner holds it
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  return {0, ''}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'product', ARGV[2], 'institution', ARGV[3], 'verified', '1')
if ARGV[7] ~= '' then redis.call('HSETNX', KEYS[1], 'funnel', ARGV[7]) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local expected = {}
for i = 9, #ARGV do expected[#expected + 1] = ARGV[i] end
return {1, resources_ready(KEYS[3], KEYS[1], ARGV[5], expected, ARGV[6], KEYS[2], ARGV[8]) or ''}
