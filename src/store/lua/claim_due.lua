-- Claims the due entries of the link check schedule (SPEC §11), atomically: takes the members
-- due by now, oldest first — at most the batch, and at most the rate per second counted over
-- all replicas — and pushes their due times in the same step, so no other replica takes them.
-- A check comes due again after `check every`; a verification after its lease, unless the
-- worker removes it first (done). Mirrors `memory/health.rs`.
--
-- KEYS[1] due set (sorted set: member → due time, ms)
-- KEYS[2] this second's claim counter
-- ARGV[1] now, ms
-- ARGV[2] batch (most members taken)
-- ARGV[3] rate (most members taken per second, all replicas)
-- ARGV[4] check every, ms
-- ARGV[5] verification lease, ms
-- Reply: {overdue ms of the oldest member still due after this claim, member...}
local due, counter = KEYS[1], KEYS[2]
local now, batch, rate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local every, lease = tonumber(ARGV[4]), tonumber(ARGV[5])

local taken = tonumber(redis.call('GET', counter) or '0')
local room = math.min(batch, rate - taken)
local members = {}
if room > 0 then
  members = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, room)
  for _, member in ipairs(members) do
    local next_due = now + lease
    if string.sub(member, 1, 2) == 'c:' then
      next_due = now + every
    end
    redis.call('ZADD', due, next_due, member)
  end
  if #members > 0 then
    redis.call('INCRBY', counter, #members)
    redis.call('PEXPIRE', counter, 2000)
  end
end

local overdue = 0
local oldest = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
if oldest[2] and tonumber(oldest[2]) < now then
  overdue = now - tonumber(oldest[2])
end
local reply = {tostring(overdue)}
for _, member in ipairs(members) do
  reply[#reply + 1] = member
end
return reply
