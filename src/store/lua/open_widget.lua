-- Opens a session's widget (`/w/{id}`, SPEC §11): a pending session before its deadline counts
-- the opening (`opened_at` first, `opens`) and forgets its event fingerprints, so an error seen
-- before (an expired token) is recorded again when it happens again. Then reads the fields.
--
-- KEYS[1] session hash
-- ARGV[1] now, ms
-- ARGV[2] the first field to read, and the next ones after it
-- Reply: {"missing"}, or {"open" | "closed", value of each field asked (nil when unset)}
local session, now = KEYS[1], tonumber(ARGV[1])
local state = redis.call('HMGET', session, 'status', 'deadline', 'event_count')
if not state[1] then
  return {'missing'}
end
local result = 'closed'
if state[1] == 'pending' and now <= tonumber(state[2]) then
  result = 'open'
  redis.call('HINCRBY', session, 'opens', 1)
  redis.call('HSETNX', session, 'opened_at', now)
  if (tonumber(state[3]) or 0) > 0 then
    for _, field in ipairs(redis.call('HKEYS', session)) do
      if string.sub(field, 1, 5) == 'seen:' then
        redis.call('HDEL', session, field)
      end
    end
  end
end
local reply = {result}
local values = redis.call('HMGET', session, unpack(ARGV, 2))
for i = 1, #ARGV - 1 do
  reply[i + 1] = values[i]
end
return reply
