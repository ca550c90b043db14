-- Records a link Belvo confirmed as its owner's (verified, with product and institution),
-- unless another owner holds it, and keeps it for at least the ttl from now. Webhooks that came
-- before the claim may have made every fetch resource of the product ready already: then the
-- claim writes `link.resources_ready` (SPEC §13, once per link; `resources_ready` in the prelude).
--
-- KEYS[1] link hash
-- KEYS[2] outbox stream, only when events go out
-- ARGV[1] owner (external id)
-- ARGV[2] product
-- ARGV[3] institution
-- ARGV[4] ttl, ms
-- ARGV[5] link id
-- ARGV[6] now, ms
-- ARGV[7] ... the product's fetch resources
-- Reply: 1 when claimed, 0 when another owner holds the link
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'product', ARGV[2], 'institution', ARGV[3], 'verified', '1')
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local expected = {}
for i = 7, #ARGV do expected[#expected + 1] = ARGV[i] end
resources_ready(KEYS[2], KEYS[1], ARGV[5], expected, ARGV[6])
return 1
