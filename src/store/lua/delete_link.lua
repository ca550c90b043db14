-- Deletes a link and its timelines when it belongs to the given owner (SPEC §11,
-- `DELETE /v1/links/{id}`): the hash, its webhook timeline, its remembered webhook ids and its
-- health history.
--
-- KEYS[1] link hash
-- KEYS[2] link timeline list
-- KEYS[3] webhook ids seen (sorted set)
-- KEYS[4] health history list
-- ARGV[1] owner (external id)
-- Reply: 1 when deleted, 0 when the link is missing or someone else's
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
