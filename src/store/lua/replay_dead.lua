-- Puts a dead delivery back in the outbox for its endpoint alone (SPEC §13, an admin's replay)
-- and drops it from the dead stream, in one step; mirrors `deliveries::replayed_fields`: the
-- event's fields, `only_group`, `webhook_id` (the original's) and `replayed_at`.
--
-- KEYS[1] dead stream
-- KEYS[2] outbox stream
-- ARGV[1] the dead delivery's id
-- ARGV[2] now, ms
-- Reply: 1 when replayed, 0 when there is no such dead delivery
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return 0
end
local kept, dead = found[1][2], {}
for i = 1, #kept, 2 do dead[kept[i]] = kept[i + 1] end
local fields = {}
for name, value in pairs(dead) do
  if name ~= 'group' and name ~= 'event_id' and name ~= 'attempts' and name ~= 'answer'
    and name ~= 'type' and name ~= 'at' and name ~= 'webhook_id' then
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
end
local webhook_id = dead['webhook_id'] or ('evt_' .. (dead['event_id'] or ''))
fields[#fields + 1] = 'only_group'
fields[#fields + 1] = dead['group'] or ''
fields[#fields + 1] = 'webhook_id'
fields[#fields + 1] = webhook_id
fields[#fields + 1] = 'replayed_at'
fields[#fields + 1] = ARGV[2]
outbox_add(KEYS[2], dead['type'] or '', dead['at'] or ARGV[2], fields)
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
