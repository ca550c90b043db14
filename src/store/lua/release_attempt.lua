-- Takes back one attempt counted by the attempt counter (a sign-in that was not a failure).
-- The key keeps its expiry (the window); a key that is gone (the window ended) stays gone.
--
-- KEYS[1] attempt counter
-- Reply: the count left, or -1 when there was none
local n = tonumber(redis.call('GET', KEYS[1]))
if not n then
  return -1
end
if n > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
