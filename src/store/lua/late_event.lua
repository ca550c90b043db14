-- A new callback event on a session this process saw finished (the first terminal event won):
-- it changes nothing but the session's timeline, so this is `apply_event.lua`'s path for it and
-- nothing else, with the timeline entry ready (its effect, "ignored", added by the caller). The
-- hint may be wrong (another process's session, a retention that ran out): Redis decides, and
-- a session that is not finished after all gets nothing written here (the store runs
-- `apply_event.lua` with everything). Nobody waits on what this changes (a finished session's
-- view is the same), so unlike `apply_event.lua` it announces nothing. Keep it in step with
-- `apply_event.lua`'s first read, its replay branch and its timeline write.
--
-- KEYS[1] session hash
-- KEYS[2] session timeline list
-- ARGV[1] event fingerprint
-- ARGV[2] now, ms
-- ARGV[3] timeline entry, a JSON object ending in `"effect":"ignored"}`
-- ARGV[4] max timeline events
-- Reply: one string: "missing", "expired", "unfinished" (still pending: nothing written),
--        "replay:<status>" or "ignored:<status>".
local session, fingerprint = KEYS[1], ARGV[1]
local state = redis.call('HMGET', session, 'status', 'seen:' .. fingerprint, 'event_count')
local status = state[1]
if not status then
  return 'missing'
end
if status == 'expired' then
  return 'expired'
end
if status == 'pending' then
  return 'unfinished'
end
if state[2] then
  redis.call('HINCRBY', session, 'replays', 1)
  return 'replay:' .. status
end
local count = tonumber(state[3]) or 0
if count < tonumber(ARGV[4]) then
  redis.call('HSET', session, 'seen:' .. fingerprint, ARGV[2], 'event_count', count + 1)
  -- The timeline expires with its session: it got its TTL when the session finished; one that
  -- did not exist yet takes the session's.
  if redis.call('RPUSH', KEYS[2], ARGV[3]) == 1 then
    local ttl = redis.call('PTTL', session)
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[2], ttl)
    end
  end
end
return 'ignored:' .. status
