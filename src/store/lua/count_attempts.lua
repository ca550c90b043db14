-- Counts one attempt in each of several windows at once (e.g. a minute and a day); each window
-- starts at its first attempt. The keys share one hash tag.
--
-- KEYS[i] counter of window i
-- ARGV[i] length of window i in ms
-- Returns {count 1, ms left 1, count 2, ms left 2, ...}.
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
