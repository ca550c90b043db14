-- Opens a session's widget (`/w/{id}`, SPEC §11): a pending session before its deadline counts
-- the opening (`opened_at` first, `opens`) and forgets its event fingerprints, so an error seen
-- before (an expired token) is recorded again when it happens again. The first opening also
-- counts the funnel's `opened` step (SPEC §14). Then reads the fields and the widget token: its
-- own key, else the `token` field of a session written before the token had one.
--
-- KEYS[1] session hash
-- KEYS[2] the day's funnel counters hash of the session's shard (the same hash tag)
-- KEYS[3] the session's widget token (a string, the same hash tag)
-- ARGV[1] now, ms
-- ARGV[2] the counters' expiry (unix ms, PEXPIREAT), or "" when not counted here
-- ARGV[3] the first field to read, and the next ones after it
-- Reply: {"missing"}, or {"open" | "closed", counted, value of each field asked (nil when
--        unset), the token as stored (nil when none; the store's `decode_widget_token` reads
--        it: compact bytes, or the text the version before wrote)}; counted is the funnel field
--        this opening counted, or "".
local session, now, expiry = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local state = redis.call('HMGET', session, 'status', 'deadline', 'event_count')
if not state[1] then
  return {'missing'}
end
local result, counted = 'closed', ''
if state[1] == 'pending' and now <= tonumber(state[2]) then
  result = 'open'
  redis.call('HINCRBY', session, 'opens', 1)
  if redis.call('HSETNX', session, 'opened_at', now) == 1 then
    local f = redis.call('HMGET', session, 'product', 'platform', 'mode')
    counted = f[1] .. '|' .. f[2] .. '|' .. (f[3] or 'connect') .. '|-|opened'
    if expiry ~= '' then
      redis.call('HINCRBY', KEYS[2], counted, 1)
      redis.call('PEXPIREAT', KEYS[2], expiry)
    end
  end
  if (tonumber(state[3]) or 0) > 0 then
    for _, field in ipairs(redis.call('HKEYS', session)) do
      if string.sub(field, 1, 5) == 'seen:' then
        redis.call('HDEL', session, field)
      end
    end
  end
end
local reply = {result, counted}
local n = #ARGV - 2
local values = redis.call('HMGET', session, unpack(ARGV, 3))
for i = 1, n do
  reply[i + 2] = values[i]
end
local token = redis.call('GET', KEYS[3])
if not token then
  token = redis.call('HGET', session, 'token')
end
-- A nil inside a Lua table ends the reply there: the token's slot is always written.
reply[n + 3] = token or false
return reply
