-- Notes one member (e.g. a hashed username) in a set counted per window: a member already noted
-- is always allowed; a new one only while the set has fewer than the maximum. The window
-- starts with the first member.
--
-- KEYS[1] the set of members seen in the window
-- ARGV[1] member
-- ARGV[2] window, ms
-- ARGV[3] most distinct members allowed
-- Reply: {allowed (1 or 0), ms left in the window}
local set, member, window, max = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('SISMEMBER', set, member) == 1 then
  return {1, redis.call('PTTL', set)}
end
if redis.call('SCARD', set) >= max then
  return {0, redis.call('PTTL', set)}
end
redis.call('SADD', set, member)
if redis.call('PTTL', set) < 0 then
  redis.call('PEXPIRE', set, window)
end
return {1, redis.call('PTTL', set)}
