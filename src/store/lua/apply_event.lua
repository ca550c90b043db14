-- Applies one widget callback event to a session, atomically (SPEC §5): the first terminal
-- event wins, a replayed event is counted once, every new event goes to the timeline. The first
-- terminal effect also counts its funnel step (SPEC §14). Mirrors `MemoryStore::apply`; both
-- run the same tests.
--
-- KEYS[1] session hash
-- KEYS[2] session timeline list
-- KEYS[3] link hash: only for a success, and only on a single server. On a Redis Cluster the
--         link hash lives in another slot, so the store leaves it out (and passes publish "0")
--         and claims the link in a second step (`claim_session_link.lua`), which announces.
-- KEYS[4] the outbox stream of the session's shard (SPEC §13, the session's hash tag), only
--         when events go out (the flag after the field pairs); it comes right after the
--         session's keys (and the link hash, if any).
-- KEYS[5] the day's funnel counters hash of the session's shard (the same hash tag), only when
--         counted here (the last flag below); always the last key.
-- ARGV[1] event fingerprint
-- ARGV[2] now, ms
-- ARGV[3] outcome status ("" = none)
-- ARGV[4] warning, JSON ("" = none)
-- ARGV[5] timeline entry, a JSON object; stored with an "effect" field added last
-- ARGV[6] events channel
-- ARGV[7] session id
-- ARGV[8] max timeline events
-- ARGV[9] max warnings
-- ARGV[10] publish: "1" or "0"
-- ARGV[11] session retention, ms: a session that finishes is kept this long from now
-- ARGV[12] link retention, ms: the link a success names is kept at least this long from now
-- ARGV[13] number of field pairs, then field, value, ... (set on the session with the outcome,
--         or without one on a pending session: an error that does not end it), then:
--         "1" when a terminal change writes its outbound event to the outbox stream;
--         the funnel step the outcome counts ("" or absent: none; a refused success counts
--         "error:" .. its code instead); the counted institution; the counters' expiry
--         (unix ms, PEXPIREAT); "1" when the funnel hash is the last key (counted here)
-- Reply: {result, status, changed, platform, owner, link_id, counted, sub}; result is "missing"
--        or "expired" (with only the status after it), "replay" or "recorded"; counted lists the
--        funnel fields this event counted (`product|platform|mode|institution|step`); sub is the
--        app's user id kept on the session ("" = none), for the cluster's second step.
local session, timeline = KEYS[1], KEYS[2]
local fingerprint, now, outcome, warning = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local entry, channel, session_id = ARGV[5], ARGV[6], ARGV[7]
local max_events, max_warnings = tonumber(ARGV[8]), tonumber(ARGV[9])
local publish, retention, link_ttl = ARGV[10] == '1', tonumber(ARGV[11]), tonumber(ARGV[12])
local nfields = tonumber(ARGV[13])
local after = 14 + 2 * nfields
local funnel_step, funnel_institution = ARGV[after + 1] or '', ARGV[after + 2]
local funnel_expiry = ARGV[after + 3]
-- Optional keys from the end: the funnel hash, then the outbox stream, then the link hash.
local last = #KEYS
local funnel = nil
if ARGV[after + 4] == '1' then
  funnel, last = KEYS[last], last - 1
end
local stream = nil
if ARGV[after] == '1' then
  stream, last = KEYS[last], last - 1
end
local link = nil
if last == 3 then link = KEYS[3] end
local counted = {}

-- Counts the funnel step of this session's first terminal effect (and, for a success, the
-- bucket of its time since the widget was first opened).
local function count_step(status)
  if funnel_step == '' then return end
  local f = redis.call('HMGET', session, 'product', 'platform', 'mode', 'opened_at', 'error_code')
  local step = funnel_step
  if status == 'failed' and outcome == 'succeeded' then step = 'error:' .. f[5] end
  local prefix = f[1] .. '|' .. f[2] .. '|' .. (f[3] or 'connect') .. '|' .. funnel_institution .. '|'
  counted[1] = prefix .. step
  if status == 'succeeded' and f[4] then
    local seconds, le = (now - tonumber(f[4])) / 1000, 1
    while le < seconds and le < 4096 do le = le * 2 end
    if seconds > le then le = 'inf' end
    counted[2] = prefix .. 'within:' .. le
  end
  if funnel then
    for _, field in ipairs(counted) do
      redis.call('HINCRBY', funnel, field, 1)
    end
    redis.call('PEXPIREAT', funnel, funnel_expiry)
  end
end

-- The outbound event of a terminal change (`domain/event.rs` builds its body from these).
local function emit(status)
  local f = redis.call('HMGET', session, 'owner', 'product', 'link_id', 'sub', 'institution',
    'exit_institution', 'error_code')
  local reason = ''
  if status == 'failed' then reason = f[7] or '' end
  local sequence = redis.call('HINCRBY', session, 'event_seq', 1)
  redis.call('XADD', stream, '*', 'type', 'session.' .. status, 'at', now,
    'session_id', session_id, 'product', f[2] or '', 'external_id', f[1] or '',
    'link_id', f[3] or '', 'sub', f[4] or '', 'institution', f[5] or f[6] or '',
    'reason', reason, 'sequence', sequence)
end

-- The timeline entry with its effect as the last field (kept byte for byte as stored before).
local function with_effect(effect)
  return string.sub(entry, 1, -2) .. ',"effect":"' .. effect .. '"}'
end

-- What the second step on a cluster needs to claim the link as this script would have.
local function reply(result, status, changed, platform)
  local owner_link = redis.call('HMGET', session, 'owner', 'link_id', 'sub')
  return {result, status, changed, platform, owner_link[1] or '', owner_link[2] or '', counted,
    owner_link[3] or ''}
end

if string.sub(entry, 1, 1) ~= '{' or string.sub(entry, -1) ~= '}' or entry == '{}' then
  return redis.error_reply('ARGV[5] must be a non-empty JSON object')
end

local state = redis.call('HMGET', session, 'status', 'deadline', 'event_count', 'platform')
local status = state[1]
if not status then
  return {'missing', ''}
end
-- Past its deadline, or stored expired by the scheduler (`expire_session.lua`): refused.
if status == 'expired' or (status == 'pending' and now > tonumber(state[2])) then
  return {'expired', status}
end
if redis.call('HEXISTS', session, 'seen:' .. fingerprint) == 1 then
  redis.call('HINCRBY', session, 'replays', 1)
  return reply('replay', status, 0, state[4])
end

local changed = 0
if outcome ~= '' then
  -- The first terminal event wins; later ones are kept in the timeline only.
  if status == 'pending' then
    -- Only a success with its link hash here (one server) has an owner to compare.
    local owner = link and redis.call('HGET', session, 'owner')
    local holder = link and redis.call('HGET', link, 'owner')
    -- An update-mode session repairs one link: a success must name that link.
    local named = nil
    for i = 0, nfields - 1 do
      if ARGV[14 + 2 * i] == 'link_id' then
        named = ARGV[15 + 2 * i]
      end
    end
    local repairs = redis.call('HMGET', session, 'mode', 'link_id')
    if named and repairs[1] == 'update' and named ~= repairs[2] then
      -- The same code and message as `LINK_MISMATCH`: the session fails, no link changes.
      status = 'failed'
      redis.call('HSET', session, 'status', status, 'updated_at', now,
        'error_code', 'link_mismatch', 'error_message',
        'the widget reconnected another link than the one this session repairs: no link was changed')
    elseif holder and holder ~= owner then
      -- Another user owns the link: this session fails, the link stays theirs (the same code
      -- and message as `Transition::owned_elsewhere`).
      status = 'failed'
      redis.call('HSET', session, 'status', status, 'updated_at', now,
        'error_code', 'link_owned_elsewhere', 'error_message',
        'the link this success names belongs to another user: it was not given to this session')
    else
      status = outcome
      redis.call('HSET', session, 'status', outcome, 'updated_at', now)
      for i = 0, nfields - 1 do
        redis.call('HSET', session, ARGV[14 + 2 * i], ARGV[15 + 2 * i])
      end
      if link then
        -- The first session to report a link holds it; its owner never changes.
        if redis.call('HSETNX', link, 'session', session_id) == 1 then
          redis.call('HSETNX', link, 'owner', owner)
          -- The app's user id, for the link's own events (kept only when events carry it).
          local sub = redis.call('HGET', session, 'sub')
          if sub then redis.call('HSET', link, 'sub', sub) end
        end
        -- A link outlives its session: kept from its latest activity.
        if redis.call('PTTL', link) < link_ttl then
          redis.call('PEXPIRE', link, link_ttl)
        end
      end
    end
    if stream then
      emit(status)
    end
    count_step(status)
    -- A finished session is kept for its retention from now.
    redis.call('PEXPIRE', session, retention)
    changed = 1
  end
elseif nfields > 0 then
  -- An error that leaves the session pending (an expired widget token): its last error.
  if status == 'pending' then
    redis.call('HSET', session, 'updated_at', now)
    for i = 0, nfields - 1 do
      redis.call('HSET', session, ARGV[14 + 2 * i], ARGV[15 + 2 * i])
    end
    changed = 1
  end
elseif warning ~= '' then
  local warnings = redis.call('HGET', session, 'warnings')
  if #cjson.decode(warnings) < max_warnings then
    if warnings == '[]' then
      warnings = '[' .. warning .. ']'
    else
      warnings = string.sub(warnings, 1, -2) .. ',' .. warning .. ']'
    end
    redis.call('HSET', session, 'warnings', warnings, 'updated_at', now)
    changed = 1
  end
end

if (tonumber(state[3]) or 0) < max_events then
  local effect = 'ignored'
  if changed == 1 then effect = 'applied' end
  redis.call('HSET', session, 'seen:' .. fingerprint, now)
  redis.call('HINCRBY', session, 'event_count', 1)
  redis.call('RPUSH', timeline, with_effect(effect))
  local ttl = redis.call('PTTL', session)
  if ttl > 0 then
    redis.call('PEXPIRE', timeline, ttl)
  end
end

if publish then
  redis.call('PUBLISH', channel, session_id)
end
return reply('recorded', status, changed, state[4])
