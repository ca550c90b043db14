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

-- Lean on purpose (issue 19): Redis runs this for every callback, and each `redis.call` costs
-- more than the work it does, so every path reads the session once, writes it once, and a
-- replay (the commonest callback) stops after one read and one count, before anything else.
local session, fingerprint, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local publish = ARGV[10] == '1'
-- On a cluster (no publish here) every answer carries what the link's second step needs.
local state
if publish then
  state = redis.call('HMGET', session, 'status', 'deadline', 'seen:' .. fingerprint, 'platform',
    'event_count')
else
  state = redis.call('HMGET', session, 'status', 'deadline', 'seen:' .. fingerprint, 'platform',
    'event_count', 'owner', 'link_id', 'sub')
end
local status, platform, owner, sub = state[1], state[4], state[6], state[8]
if not status then
  return {'missing', ''}
end
-- Past its deadline, or stored expired by the scheduler (`expire_session.lua`): refused.
if status == 'expired' or (status == 'pending' and now > tonumber(state[2])) then
  return {'expired', status}
end
if state[3] then
  redis.call('HINCRBY', session, 'replays', 1)
  if publish then return {'replay', status, 0, platform} end
  return {'replay', status, 0, platform, owner or '', state[7] or '', {}, sub or ''}
end

local timeline, outcome, warning, entry = KEYS[2], ARGV[3], ARGV[4], ARGV[5]
local channel, session_id = ARGV[6], ARGV[7]
local max_events, max_warnings = tonumber(ARGV[8]), tonumber(ARGV[9])
local retention, link_ttl = tonumber(ARGV[11]), tonumber(ARGV[12])
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

if string.sub(entry, 1, 1) ~= '{' or string.sub(entry, -1) ~= '}' or entry == '{}' then
  return redis.error_reply('ARGV[5] must be a non-empty JSON object')
end

-- The session's fields as this event leaves them (those read so far), and the writes that
-- get them there, made at once.
local f = {link_id = state[7]}
local writes = {}
local function set(field, value)
  writes[#writes + 1] = field
  writes[#writes + 1] = value
  f[field] = value
end

-- What the second step on a cluster needs to claim the link as this script would have.
local function reply(result, changed)
  return {result, status, changed, platform, owner or '', f.link_id or '', counted, sub or ''}
end

-- Counts the funnel step of this session's first terminal effect (and, for a success, the
-- bucket of its time since the widget was first opened). The day's hash gets its expiry
-- with each new field (so whenever this creates it).
local function count_step()
  if funnel_step == '' then return end
  local step = funnel_step
  if status == 'failed' and outcome == 'succeeded' then step = 'error:' .. f.error_code end
  local prefix = f.product .. '|' .. platform .. '|' .. (f.mode or 'connect') .. '|' ..
    funnel_institution .. '|'
  counted[1] = prefix .. step
  if status == 'succeeded' and f.opened_at then
    local seconds, le = (now - tonumber(f.opened_at)) / 1000, 1
    while le < seconds and le < 4096 do le = le * 2 end
    if seconds > le then le = 'inf' end
    counted[2] = prefix .. 'within:' .. le
  end
  if funnel then
    local new = false
    for _, field in ipairs(counted) do
      if redis.call('HINCRBY', funnel, field, 1) == 1 then new = true end
    end
    if new then redis.call('PEXPIREAT', funnel, funnel_expiry) end
  end
end

-- The outbound event of a terminal change (`domain/event.rs` builds its body from these).
local function emit()
  local reason = ''
  if status == 'failed' then reason = f.error_code or '' end
  local sequence = (tonumber(f.event_seq) or 0) + 1
  set('event_seq', sequence)
  redis.call('XADD', stream, '*', 'type', 'session.' .. status, 'at', now,
    'session_id', session_id, 'product', f.product or '', 'external_id', owner or '',
    'link_id', f.link_id or '', 'sub', sub or '', 'institution',
    f.institution or f.exit_institution or '', 'reason', reason, 'sequence', sequence)
end

-- The timeline entry with its effect as the last field (kept byte for byte as stored before).
local function with_effect(effect)
  return string.sub(entry, 1, -2) .. ',"effect":"' .. effect .. '"}'
end

local changed = 0
if outcome ~= '' then
  -- The first terminal event wins; later ones are kept in the timeline only.
  if status == 'pending' then
    -- Read only here: each field an HMGET returns costs Redis about as much as 1/8 of a call,
    -- which the commoner paths (an event on a finished session) would pay for nothing.
    local more = redis.call('HMGET', session, 'mode', 'product', 'opened_at', 'institution',
      'exit_institution', 'error_code', 'event_seq', 'owner', 'link_id', 'sub')
    f.mode, f.product, f.opened_at, f.institution = more[1], more[2], more[3], more[4]
    f.exit_institution, f.error_code, f.event_seq = more[5], more[6], more[7]
    owner, f.link_id, sub = more[8], more[9], more[10]
    -- Only a success with its link hash here (one server) has an owner to compare.
    local held = link and redis.call('HMGET', link, 'owner', 'session')
    local holder = held and held[1]
    -- An update-mode session repairs one link: a success must name that link.
    local named = nil
    for i = 0, nfields - 1 do
      if ARGV[14 + 2 * i] == 'link_id' then
        named = ARGV[15 + 2 * i]
      end
    end
    if named and f.mode == 'update' and named ~= f.link_id then
      -- The same code and message as `LINK_MISMATCH`: the session fails, no link changes.
      status = 'failed'
      set('error_code', 'link_mismatch')
      set('error_message',
        'the widget reconnected another link than the one this session repairs: no link was changed')
    elseif holder and holder ~= owner then
      -- Another user owns the link: this session fails, the link stays theirs (the same code
      -- and message as `Transition::owned_elsewhere`).
      status = 'failed'
      set('error_code', 'link_owned_elsewhere')
      set('error_message',
        'the link this success names belongs to another user: it was not given to this session')
    else
      status = outcome
      for i = 0, nfields - 1 do
        set(ARGV[14 + 2 * i], ARGV[15 + 2 * i])
      end
      if link then
        -- The first session to report a link holds it; its owner never changes.
        if not held[2] then
          local claim = {'session', session_id}
          if not holder then
            claim[3], claim[4] = 'owner', owner
          end
          -- The app's user id, for the link's own events (kept only when events carry it).
          if sub then
            claim[#claim + 1], claim[#claim + 2] = 'sub', sub
          end
          redis.call('HSET', link, unpack(claim))
        end
        -- A link outlives its session: kept from its latest activity (a longer TTL stays).
        -- NX first: a success mostly names a new link, which has none yet.
        if redis.call('PEXPIRE', link, link_ttl, 'NX') == 0 then
          redis.call('PEXPIRE', link, link_ttl, 'GT')
        end
      end
    end
    set('status', status)
    set('updated_at', now)
    if stream then
      emit()
    end
    count_step()
    changed = 1
  end
elseif nfields > 0 then
  -- An error that leaves the session pending (an expired widget token): its last error.
  if status == 'pending' then
    set('updated_at', now)
    for i = 0, nfields - 1 do
      set(ARGV[14 + 2 * i], ARGV[15 + 2 * i])
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
    set('warnings', warnings)
    set('updated_at', now)
    changed = 1
  end
end

local count = tonumber(state[5]) or 0
local kept = count < max_events
if kept then
  set('seen:' .. fingerprint, now)
  set('event_count', count + 1)
end
if #writes > 0 then
  redis.call('HSET', session, unpack(writes))
end
-- A finished session is kept for its retention from now, and its timeline with it.
local finished = changed == 1 and outcome ~= ''
if finished then
  redis.call('PEXPIRE', session, retention)
end
if kept then
  local effect = 'ignored'
  if changed == 1 then effect = 'applied' end
  -- The timeline expires with its session: set when the session's TTL changes (it finished)
  -- or the timeline is new; otherwise it has it already.
  local entries = redis.call('RPUSH', timeline, with_effect(effect))
  if finished then
    redis.call('PEXPIRE', timeline, retention)
  elseif entries == 1 then
    local ttl = redis.call('PTTL', session)
    if ttl > 0 then
      redis.call('PEXPIRE', timeline, ttl)
    end
  end
end

if publish then
  redis.call('PUBLISH', channel, session_id)
end
return reply('recorded', changed)
