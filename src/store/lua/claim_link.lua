-- Records a link Belvo confirmed as its owner's (verified, with product and institution),
-- unless another owner holds it, and keeps it for at least the ttl from now.
--
-- KEYS[1] link hash
-- ARGV[1] owner (external id)
-- ARGV[2] product
-- ARGV[3] institution
-- ARGV[4] ttl, ms
-- Reply: 1 when claimed, 0 when another owner holds the link
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'product', ARGV[2], 'institution', ARGV[3], 'verified', '1')
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
