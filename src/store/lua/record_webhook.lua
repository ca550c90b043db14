-- Records one Belvo webhook on its link, atomically (SPEC §6): deduplicated by webhook id,
-- never merged into a link another user owns, kept in the link's timeline, announced. The
-- webhook that makes the last of the link's product's fetch resources ready writes
-- `link.resources_ready` (SPEC §13, once per link; `resources_ready` in the prelude).
-- Mirrors `MemoryStore::record_webhook`.
--
-- The ids seen live in their own key, so the link hash that every status read fetches stays
-- small however many webhooks a link gets: at least the latest `MAX_IDS` of them, at most
-- `MAX_IDS + SLACK` (one `ZREMRANGEBYRANK` every `SLACK + 1` webhooks, not a `ZCARD` each).
-- (Versions before this kept them in the link hash as `seen:<id>` fields; those are still
-- honoured.)
--
-- Lean on purpose (issue 19): Redis spends more on each `redis.call`, each argument and each
-- field read than on the work itself, so a duplicate stops after one command, and a new
-- webhook on a link whose resources are all ready reads 5 fields of the link hash, writes it
-- once and pushes its timeline entry (and publishes nothing: see the end); no `ZCARD`, no
-- `PTTL`, no number parsed. What
-- lets it skip the rest is the link hash's `webhook_keys` field, written by this script alone:
--   `<window>`: the link's three keys were kept (their TTLs) in keep window `<window>` (ARGV[7]),
--     its resources are all ready (the link is "settled": nothing to check any more),
--     `webhook_external_id` is set and its timeline is not full: it holds one entry per id in
--     the set, so it counts them;
--   `<window>:<n>`: the same with a full timeline and `<n>` ids in the set;
--   either with `~` after it: settled, but `webhook_external_id` not set yet; with `-`: not
--     settled (its readiness and external id are read from the hash).
--
-- Five values never change in a process and are not sent with each call: the store puts them
-- before the script (`lua::record_webhook`) as `local CHANNEL, TTL, MAX_EVENTS, MAX_IDS, SLACK
-- = ...`: the events channel, the link's retention in ms (a string: counted from this webhook),
-- the timeline's bound, the ids' bound (`MAX_IDS >= MAX_EVENTS`) and the ids' slack.
--
-- KEYS[1] link hash
-- KEYS[2] link timeline list
-- KEYS[3] webhook ids seen (sorted set, by time)
-- KEYS[4] the day's funnel counters hash of the link's shard (the link's hash tag), only with
--         the readiness arguments (ARGV[8] on): the funnel's `resources_ready` step counts there
-- KEYS[5] outbox stream, only with the readiness arguments and when events go out
-- ARGV[1] webhook id
-- ARGV[2] now, ms
-- ARGV[3] resource ("" = none)
-- ARGV[4] resource state, JSON
-- ARGV[5] external id ("" = none)
-- ARGV[6] timeline entry, a JSON object with `"effect":"applied"` as its last field (stored as
--         is, or with `mismatch` for `applied`)
-- ARGV[7] the keep window: now divided by REKEEP, rounded down (a webhook in the window of the
--         link's last keep leaves its TTLs as they are; REKEEP is 30 s, or a hundredth of a
--         retention shorter than 50 minutes)
-- ARGV[8] link id; absent when the caller believes the link settled (a hint: when it is not,
--         the script undoes its one write and replies `unready`, and the caller sends it again
--         with ARGV[8] on)
-- ARGV[9] the counters' expiry (unix ms, PEXPIREAT)
-- ARGV[10], ARGV[11] ... pairs: a product name, then its fetch resources joined by ","; only
--         the products whose fetch resources include this webhook's resource (no other product
--         can become ready by it)
-- Reply: one string, its parts separated by newlines (none of them holds one): the result, then
-- with "recorded" the session id or "", the link's consent fact or "", the funnel field counted
-- or "" and "1" when the link is settled or "", with "mismatch" the session id or "" and the
-- consent fact or "". The result is "duplicate", "mismatch", "recorded" or "unready" (nothing
-- written: send the readiness arguments). One string, not a table: Redis spends more on turning
-- a Lua table into a reply, and the caller on parsing it, than on a string. The consent (SPEC
-- §12) tells the caller whether a data webhook may end an expired consent, so that takes a
-- second round trip only when there is one to end.
local link, timeline, seen = KEYS[1], KEYS[2], KEYS[3]
local webhook_id, now, resource, external_id = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local entry, window, check = ARGV[6], ARGV[7], ARGV[8] ~= nil

if redis.call('ZADD', seen, 'NX', now, webhook_id) == 0 then
  return 'duplicate'
end
local l
if check then
  l = redis.call('HMGET', link, 'seen:' .. webhook_id, 'owner', 'session', 'consent',
    'webhook_keys', 'webhook_external_id', 'resources_ready', 'product')
else
  l = redis.call('HMGET', link, 'seen:' .. webhook_id, 'owner', 'session', 'consent',
    'webhook_keys')
end
if l[1] then
  -- Seen by a version that kept the ids in the link hash: not one to remember again.
  redis.call('ZREM', seen, webhook_id)
  return 'duplicate'
end
local owner, marker = l[2], l[5]
local mismatch = external_id ~= '' and owner and owner ~= external_id

-- What `webhook_keys` says (absent: nothing, as for a link no webhook kept yet).
local settled, kept, ids, external = false, false, nil, false
if marker == window then
  settled, kept, external = true, true, true
elseif marker then
  local w, n, flag = string.match(marker, '^(%d+):?(%d*)([~%-]?)$')
  settled, kept, ids = flag ~= '-', w == window, n and tonumber(n)
  external = flag == ''
end
local ready, external_known
if check then
  ready, external_known = l[7], l[6]
elseif settled then
  ready, external_known = true, external
elseif not mismatch then
  -- The caller's hint was wrong: read the link's readiness and external id first.
  redis.call('ZREM', seen, webhook_id)
  return 'unready'
end

-- The timeline keeps its first `MAX_EVENTS` entries. A full one kept in this window is left
-- alone without a command; otherwise the entry is pushed (and popped again when the timeline
-- was full), and when it is full the ids are counted afresh.
local keep = not kept
if ids and kept then
  ids = ids + 1
else
  -- The entry ends with `,"effect":"applied"}` (20 bytes; the caller makes sure).
  if mismatch then entry = string.sub(entry, 1, -21) .. ',"effect":"mismatch"}' end
  local entries = redis.call('RPUSH', timeline, entry)
  if entries > MAX_EVENTS then
    redis.call('RPOP', timeline)
    ids = redis.call('ZCARD', seen)
  else
    ids = nil
    -- A timeline this webhook created: kept with the others.
    if entries == 1 then keep = true end
  end
end
if ids and ids > MAX_IDS + SLACK then
  redis.call('ZREMRANGEBYRANK', seen, 0, -(MAX_IDS + 1))
  ids = MAX_IDS
end

-- Also makes sure the link hash exists, to carry the TTL of the keys below.
local writes = {'webhook_at', now}
local may_ready = false
if not mismatch then
  if external_id ~= '' and not external_known then
    writes[#writes + 1], writes[#writes + 2] = 'webhook_external_id', external_id
    external_known = true
  end
  if resource ~= '' then
    writes[#writes + 1], writes[#writes + 2] = 'res:' .. resource, ARGV[4]
    may_ready = not ready
  end
end
settled = ready and true or false
local function marker_of(settled)
  local m = window
  if ids then m = m .. ':' .. ids end
  if not settled then
    m = m .. '-'
  elseif not external_known then
    m = m .. '~'
  end
  return m
end
local new_marker = marker_of(settled)
if new_marker ~= marker then
  writes[#writes + 1], writes[#writes + 2] = 'webhook_keys', new_marker
end
redis.call('HSET', link, unpack(writes))
local counted = ''
if mismatch then
  -- Never merge another user's data into this link.
  redis.call('HINCRBY', link, 'mismatches', 1)
elseif may_ready then
  -- The fetch resources of the link's product among the pairs from ARGV[10] on.
  local expected = {}
  for i = 10, #ARGV - 1, 2 do
    if ARGV[i] == l[8] then
      for name in string.gmatch(ARGV[i + 1], '[^,]+') do expected[#expected + 1] = name end
    end
  end
  counted = resources_ready(KEYS[5], link, ARGV[8], expected, now, KEYS[4], ARGV[9])
  if counted then
    settled = true
    redis.call('HSET', link, 'webhook_keys', marker_of(true))
  end
  counted = counted or ''
end

-- Keep the link its retention, counted from the latest webhook (a longer one stays), and its
-- other keys with it; a webhook in the window of the last keep (less than REKEEP ago) leaves
-- the three TTLs as they are. `webhook_keys`, not the link's TTL, says so: a claim keeps the
-- link hash alone, and the next webhook in a later window brings the timeline and the ids up
-- to it, so they never expire more than REKEEP before it. (The window is taken on the clock of
-- the webhook's replica, as `webhook_at` is: replicas whose clocks differ by a second may keep
-- a second later.)
if keep then
  local left = TTL
  if redis.call('PEXPIRE', link, TTL, 'GT') == 0 then
    left = redis.call('PTTL', link)
    if left < 0 then
      left = TTL
      redis.call('PEXPIRE', link, TTL)
    end
  end
  redis.call('PEXPIRE', timeline, left)
  redis.call('PEXPIRE', seen, left)
end

local session = l[3] or ''
local consent = l[4] or ''
-- The session's waiters, and the delivery loops, are woken: unless this is a resource's data
-- on a link whose resources were all ready before it, without a consent (so nothing follows
-- it in the link's health, and no event). A waiter for `until=resources` was answered once
-- they were ready (no webhook makes one pending again), one for the status waits for a
-- callback; so nothing listens, and the commonest webhook, on a settled link, spares a
-- command here and a message in every replica (issue 19).
if session ~= '' and not (ready and resource ~= '' and consent == '' and not mismatch) then
  redis.call('PUBLISH', CHANNEL, session)
end
if mismatch then
  return 'mismatch\n' .. session .. '\n' .. consent
end
return 'recorded\n' .. session .. '\n' .. consent .. '\n' .. counted .. '\n' ..
  (settled and '1' or '')
