-- Records one Belvo webhook on its link, atomically (SPEC §6): deduplicated by webhook id,
-- never merged into a link another user owns, kept in the link's timeline, announced. The
-- webhook that makes the last of the link's product's fetch resources ready writes
-- `link.resources_ready` (SPEC §13, once per link; `resources_ready` in the prelude).
-- Mirrors `MemoryStore::record_webhook`.
--
-- The ids seen live in their own key, the latest `max webhook ids` of them, so the link hash
-- that every status read fetches stays small however many webhooks a link gets. (Versions
-- before this kept them in the link hash as `seen:<id>` fields; those are still honoured.)
--
-- KEYS[1] link hash
-- KEYS[2] link timeline list
-- KEYS[3] webhook ids seen (sorted set, by time)
-- KEYS[4] the day's funnel counters hash of the link's shard (the link's hash tag), only with a
--         link id (ARGV[11]): the funnel's `resources_ready` step counts there
-- KEYS[5] outbox stream, only when events go out
-- ARGV[1] webhook id
-- ARGV[2] now, ms
-- ARGV[3] resource ("" = none)
-- ARGV[4] resource state, JSON
-- ARGV[5] external id ("" = none)
-- ARGV[6] timeline entry, a JSON object; stored with an "effect" field added last
-- ARGV[7] events channel
-- ARGV[8] ttl, ms (the link's retention, counted from this webhook)
-- ARGV[9] max timeline events
-- ARGV[10] max webhook ids remembered
-- ARGV[11] link id ("" = no readiness check: the scripts of bench/ stop at ARGV[10])
-- ARGV[12] the counters' expiry (unix ms, PEXPIREAT)
-- ARGV[13], ARGV[14] ... pairs: a product name, then its fetch resources joined by ","; only
--         the products whose fetch resources include this webhook's resource (no other product
--         can become ready by it)
-- Reply: {result, session id or "", the link's consent fact or "", the funnel field counted or
-- ""}; result is "duplicate", "mismatch" or "recorded". The consent (SPEC §12) tells the caller
-- whether a data webhook may end an expired consent, so that takes a second round trip only when
-- there is one to end.
local link, timeline, seen = KEYS[1], KEYS[2], KEYS[3]
local webhook_id, resource, state, external_id = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local entry, channel, ttl, max_events = ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local max_ids = tonumber(ARGV[10])

-- The fetch resources of `product` among the pairs from ARGV[13] on (none when unknown).
local function expected_of(product)
  local list = {}
  for i = 13, #ARGV - 1, 2 do
    if ARGV[i] == product then
      for name in string.gmatch(ARGV[i + 1], '[^,]+') do list[#list + 1] = name end
    end
  end
  return list
end

-- The timeline entry with its effect as the last field (kept byte for byte as stored before).
local function with_effect(effect)
  return string.sub(entry, 1, -2) .. ',"effect":"' .. effect .. '"}'
end

if string.sub(entry, 1, 1) ~= '{' or string.sub(entry, -1) ~= '}' or entry == '{}' then
  return redis.error_reply('ARGV[6] must be a non-empty JSON object')
end

-- Lean on purpose (issue 19): each `redis.call` costs more than the work it does, so a
-- duplicate stops after one command and a new webhook reads the link once and writes it once.
if redis.call('ZADD', seen, 'NX', ARGV[2], webhook_id) == 0 then
  return {'duplicate', ''}
end
local l = redis.call('HMGET', link, 'seen:' .. webhook_id, 'owner', 'product', 'session', 'consent',
  'webhook_external_id', 'mismatches', 'resources_ready')
if l[1] then
  -- Seen by a version that kept the ids in the link hash: not one to remember again.
  redis.call('ZREM', seen, webhook_id)
  return {'duplicate', ''}
end
if redis.call('ZCARD', seen) > max_ids then
  redis.call('ZREMRANGEBYRANK', seen, 0, -(max_ids + 1))
end

local owner = l[2]
local effect = 'applied'
local counted = ''
-- Also makes sure the link hash exists, to carry the TTL of the keys below.
local writes = {'webhook_at', ARGV[2]}
if external_id ~= '' and owner and owner ~= external_id then
  -- Never merge another user's data into this link.
  effect = 'mismatch'
  writes[3], writes[4] = 'mismatches', (tonumber(l[7]) or 0) + 1
else
  if external_id ~= '' and not l[6] then
    writes[#writes + 1], writes[#writes + 2] = 'webhook_external_id', external_id
  end
  if resource ~= '' then
    writes[#writes + 1], writes[#writes + 2] = 'res:' .. resource, state
  end
end
redis.call('HSET', link, unpack(writes))
if effect == 'applied' and resource ~= '' and (ARGV[11] or '') ~= '' and not l[8] then
  counted = resources_ready(KEYS[5], link, ARGV[11], expected_of(l[3] or ''), ARGV[2], KEYS[4],
    ARGV[12]) or ''
end

-- Kept while the timeline holds fewer than `max_events` entries.
local entries = redis.call('RPUSH', timeline, with_effect(effect))
if entries > max_events then
  redis.call('RPOP', timeline)
end
-- Keep the link its retention, counted from the latest webhook (a longer one stays), and its
-- other keys with it. Webhooks come in bursts (a new link's historical updates, one per
-- resource), so one that finds the webhook ids kept a moment ago (by a webhook less than
-- `REKEEP` ms ago, which kept all three; only webhooks write that key) leaves the three TTLs as
-- they are: one PTTL instead of three PEXPIREs. The ids, not the link hash, say so: a claim
-- keeps the link hash alone, and the next webhook more than `REKEEP` after the last full keep
-- brings the timeline and the ids up to it, so they never expire more than `REKEEP` before it.
-- A timeline this webhook created gets its TTL either way. (`REKEEP` is 30 s, or a hundredth
-- of a retention shorter than 50 minutes.)
local REKEEP = math.min(30000, math.floor(ttl / 100))
local kept = redis.call('PTTL', seen)
if kept < 0 or kept < ttl - REKEEP then
  local left = ttl
  if redis.call('PEXPIRE', link, ttl, 'GT') == 0 then
    left = redis.call('PTTL', link)
    if left < 0 then
      left = ttl
      redis.call('PEXPIRE', link, ttl)
    end
  end
  redis.call('PEXPIRE', timeline, left)
  redis.call('PEXPIRE', seen, left)
elseif entries == 1 then
  redis.call('PEXPIRE', timeline, kept)
end

local session = l[4] or ''
if session ~= '' then
  redis.call('PUBLISH', channel, session)
end
local consent = l[5] or ''
if effect == 'mismatch' then
  return {'mismatch', session, consent}
end
return {'recorded', session, consent, counted}
