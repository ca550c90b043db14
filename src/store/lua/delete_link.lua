-- Deletes a link and its timelines when it belongs to the given owner (SPEC §11,
-- `DELETE /v1/links/{id}`): the hash, its webhook timeline, its remembered webhook ids and its
-- health history; writes `link.deleted` (SPEC §13) in the same step when events go out.
--
-- KEYS[1] link hash
-- KEYS[2] link timeline list
-- KEYS[3] webhook ids seen (sorted set)
-- KEYS[4] health history list
-- KEYS[5] outbox stream, only when events go out
-- ARGV[1] owner (external id)
-- ARGV[2] link id
-- ARGV[3] now, ms
-- Reply: 1 when deleted, 0 when the link is missing or someone else's
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
link_event(KEYS[5], KEYS[1], ARGV[2], 'link.deleted', ARGV[3], {})
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
