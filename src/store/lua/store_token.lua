-- Keeps a renewed widget token on its session (`/w/{id}`) and ends the renewal, so the replicas
-- waiting for it read it. The token has a key of its own that expires with it, never after the
-- session hash; a `token` field left by the layout before is removed. A session gone meanwhile
-- is not recreated.
--
-- KEYS[1] session hash
-- KEYS[2] renewal mark
-- KEYS[3] the session's widget token (a string, the same hash tag)
-- ARGV[1] access token, as stored (kept compact when it reads back exactly: the store's
--         `encode_widget_token`; bytes the script never reads)
-- ARGV[2] its expiry, ms
-- ARGV[3] now, ms
-- Reply: 1 when kept, 0 when the session is gone
redis.call('DEL', KEYS[2])
local session_left = redis.call('PTTL', KEYS[1])
if session_left == -2 then
  return 0
end
redis.call('HSET', KEYS[1], 'token_expires_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'token')
local left = tonumber(ARGV[2]) - tonumber(ARGV[3])
if session_left >= 0 and session_left < left then
  left = session_left
end
if left > 0 then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', left)
else
  redis.call('DEL', KEYS[3])
end
return 1
