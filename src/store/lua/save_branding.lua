-- Saves a product's branding version if it follows the current one (optimistic concurrency),
-- keeps it in the capped history, and announces the save to every replica.
--
-- KEYS[1] current branding hash (product -> version JSON)
-- KEYS[2] the product's history list
-- ARGV[1] product
-- ARGV[2] version number being saved
-- ARGV[3] version, JSON (with a "version" field)
-- ARGV[4] branding channel
-- ARGV[5] max versions kept
-- Reply: -1 when saved, else the current version number
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local current = 0
if cur then
  current = cjson.decode(cur)['version']
end
if current + 1 ~= tonumber(ARGV[2]) then
  return current
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('PUBLISH', ARGV[4], ARGV[1])
return -1
