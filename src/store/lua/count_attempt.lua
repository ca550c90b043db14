-- Counts one attempt in a fixed window that starts at the first attempt.
--
-- KEYS[1] attempt counter
-- ARGV[1] window, ms
-- Reply: {count, ms left in the window}
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {n, redis.call('PTTL', KEYS[1])}
