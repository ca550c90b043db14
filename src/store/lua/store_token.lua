-- Keeps a renewed widget token on its session (`/w/{id}`) and ends the renewal, so the replicas
-- waiting for it read it. A session gone meanwhile is not recreated.
--
-- KEYS[1] session hash
-- KEYS[2] renewal mark
-- ARGV[1] access token
-- ARGV[2] its expiry, ms
-- Reply: 1 when kept, 0 when the session is gone
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'token_expires_at', ARGV[2])
return 1
