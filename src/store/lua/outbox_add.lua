-- Prelude of every script that writes outbound events (SPEC §13), prepended to it by `mod.rs`:
-- the one place that says how an event is appended, so the stream it goes to (one per shard on
-- a cluster) changes here alone. `stream` is nil when no endpoint is configured: nothing is
-- written. `link_event` fills a link event's data from the link hash and counts its sequence.
-- `count_link_step` counts a funnel step of a link (SPEC §14), with or without events.
local function outbox_add(stream, event_type, now, fields)
  if not stream then return nil end
  local args = {'XADD', stream, '*', 'type', event_type, 'at', now}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  return redis.call(unpack(args))
end

local function link_event(stream, link, link_id, event_type, now, extra)
  if not stream then return nil end
  local f = redis.call('HMGET', link, 'owner', 'product', 'sub', 'institution', 'session')
  local sequence = redis.call('HINCRBY', link, 'event_seq', 1)
  local fields = {'link_id', link_id, 'external_id', f[1] or '', 'product', f[2] or '',
    'sub', f[3] or '', 'institution', f[4] or '', 'session_id', f[5] or '',
    'sequence', sequence}
  for i = 1, #extra do fields[#fields + 1] = extra[i] end
  return outbox_add(stream, event_type, now, fields)
end

-- Counts `step` of the session whose verification claimed a link (SPEC §14) in the day's funnel
-- counters hash `counters` (the link's shard), under `prefix`, the one that claim kept on the
-- link (`funnel`; none for a link made through the API: nothing counted). `expiry` is the
-- counters' PEXPIREAT. Returns the field counted, or '' when none.
local function count_step(prefix, counters, step, expiry)
  if not prefix or not counters then return '' end
  redis.call('HINCRBY', counters, prefix .. step, 1)
  redis.call('PEXPIREAT', counters, expiry)
  return prefix .. step
end

-- As `count_step`, with the prefix read from the link hash `link`.
local function count_link_step(link, counters, step, expiry)
  return count_step(counters and redis.call('HGET', link, 'funnel'), counters, step, expiry)
end

-- Once every resource in `expected` (a list of names) is ready on the link (its `res:<NAME>`
-- field, a resource state, says "ready"), flags the link `resources_ready` and writes
-- `link.resources_ready`: once per link, from whichever script completes the set (a webhook, or
-- the claim that names the link's product). It counts the funnel's `resources_ready` step in
-- `counters` (expiring at `expiry`) at the same time. Returns the funnel field counted ('' when
-- none) the one time it flags the link, nil otherwise.
local function resources_ready(stream, link, link_id, expected, now, counters, expiry)
  if #expected == 0 or redis.call('HEXISTS', link, 'resources_ready') == 1 then return nil end
  for i = 1, #expected do
    local state = redis.call('HGET', link, 'res:' .. expected[i])
    if not state or cjson.decode(state)['status'] ~= 'ready' then return nil end
  end
  redis.call('HSET', link, 'resources_ready', now)
  link_event(stream, link, link_id, 'link.resources_ready', now, {})
  return count_link_step(link, counters, 'resources_ready', expiry)
end
