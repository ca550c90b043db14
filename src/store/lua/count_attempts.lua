-- Counts one attempt in each of several windows at once (e.g. a minute and a day); each window
-- starts at its first attempt. The keys share one hash tag.
--
-- KEYS[1] counter of the first window
-- KEYS[2] counter of the second window
-- ARGV[1] length of the first window, ms
-- ARGV[2] length of the second window, ms
-- Reply: {count 1, ms left 1, count 2, ms left 2} (each count includes this attempt)
local reply = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then
    redis.call('PEXPIRE', key, ARGV[i])
  end
  reply[#reply + 1] = n
  reply[#reply + 1] = redis.call('PTTL', key)
end
return reply
