-- Records a link Belvo confirmed as its owner's (verified, with product and institution),
-- unless another owner holds it, and keeps it for at least the ttl from now. Webhooks that came
-- before the claim may have made every fetch resource of the product ready already: then the
-- claim writes `link.resources_ready` (SPEC §13, once per link; `resources_ready` in the prelude).
-- A session's claim keeps its funnel counter prefix on the link (`funnel`, the first session's),
-- under which the link's own steps count (SPEC §14). The step itself is `claim_link` in
-- `link_steps.lua`.
--
-- KEYS[1] link hash
-- KEYS[2] the day's funnel counters hash of the link's shard (the link's hash tag)
-- KEYS[3] outbox stream, only when events go out
-- ARGV[1] owner (external id)
-- ARGV[2] product
-- ARGV[3] institution
-- ARGV[4] ttl, ms
-- ARGV[5] link id
-- ARGV[6] now, ms
-- ARGV[7] the claiming session's funnel counter prefix ("" = none: a link made through the API)
-- ARGV[8] the counters' expiry (unix ms, PEXPIREAT)
-- ARGV[9] ... the product's fetch resources
-- Reply: {1, the funnel field counted or ""} when claimed, {0, ""} when another owner holds it
local expected = {}
for i = 9, #ARGV do expected[#expected + 1] = ARGV[i] end
local counted = claim_link(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  ARGV[6], ARGV[7], ARGV[8], expected)
if not counted then
  return {0, ''}
end
return {1, counted}
