-- Expires a session still pending past its deadline (SPEC §13), atomically: stores its status
-- `expired` (a late callback then finds it expired, as a read past the deadline already shows)
-- and writes its `session.expired` event to its shard's outbox, with the same data fields as
-- `apply_event.lua`'s events. A session that finished first is left alone: no event. Run by the
-- scheduler for an `x:` due entry. Mirrors `MemoryStore::expire_session`.
--
-- KEYS[1] session hash
-- KEYS[2] the outbox stream of the session's shard (the session's hash tag)
-- ARGV[1] now, ms
-- ARGV[2] session id
-- ARGV[3] events channel
-- Reply: {"expired"}, {"not_yet", deadline} (still pending before its deadline) or {"nothing"}
local session, stream = KEYS[1], KEYS[2]
local now, session_id, channel = tonumber(ARGV[1]), ARGV[2], ARGV[3]

local f = redis.call('HMGET', session, 'status', 'deadline', 'owner', 'product', 'link_id', 'sub',
  'institution', 'exit_institution')
if f[1] ~= 'pending' then
  return {'nothing'}
end
if now <= tonumber(f[2]) then
  return {'not_yet', f[2]}
end
redis.call('HSET', session, 'status', 'expired', 'updated_at', now)
local sequence = redis.call('HINCRBY', session, 'event_seq', 1)
outbox_add(stream, 'session.expired', now, {'session_id', session_id, 'product', f[4] or '',
  'external_id', f[3] or '', 'link_id', f[5] or '', 'sub', f[6] or '',
  'institution', f[7] or f[8] or '', 'reason', '', 'sequence', sequence})
redis.call('PUBLISH', channel, session_id)
return {'expired'}
