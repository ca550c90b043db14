-- A callback event this process has seen its session record before (a replay, the commonest
-- callback), applied with what a replay needs and nothing else: `apply_event.lua`'s first
-- read and its replay branch, which this must keep in step with. The hint may be wrong (another
-- replica, or `/w/` forgot the session's fingerprints): then nothing is written and the store
-- runs `apply_event.lua` with everything. Its answer is one string where it can be: Redis spends
-- more on turning a Lua table into a reply than on the two commands above it.
--
-- KEYS[1] session hash
-- ARGV[1] event fingerprint
-- ARGV[2] now, ms
-- ARGV[3] "0" for a success on a cluster, whose second step needs the owner, the link and the
--         app's user id in the answer; "1" otherwise (`apply_event.lua`'s publish flag)
-- Reply: "missing", "expired", "unseen" (not a replay after all: nothing written) or
--        "replay:<status>"; with ARGV[3] "0" a replay answers as `apply_event.lua` does:
--        {"replay", status, 0, platform, owner, link_id, {}, sub}.
local session = KEYS[1]
local state
if ARGV[3] == '1' then
  state = redis.call('HMGET', session, 'status', 'deadline', 'seen:' .. ARGV[1])
else
  state = redis.call('HMGET', session, 'status', 'deadline', 'seen:' .. ARGV[1], 'platform',
    'owner', 'link_id', 'sub')
end
local status = state[1]
if not status then
  return 'missing'
end
if status == 'expired' or (status == 'pending' and tonumber(ARGV[2]) > tonumber(state[2])) then
  return 'expired'
end
if not state[3] then
  return 'unseen'
end
redis.call('HINCRBY', session, 'replays', 1)
if ARGV[3] == '1' then
  return 'replay:' .. status
end
return {'replay', status, 0, state[4], state[5] or '', state[6] or '', {}, state[7] or ''}
