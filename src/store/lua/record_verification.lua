-- Records what a link's verification found at Belvo in one step (SPEC §5, issue 19). A link
-- whose record matched its session is claimed for the session's owner (`claim_link`), repaired
-- by an update session's reconnect and given the health Belvo's record shows (`apply_health`);
-- then, matched or not, the verdict goes on the link when it is the session's (`set_verdict`).
-- On a single server the same step lists the link as its owner's, puts it on the check schedule
-- (a link already there keeps its time), takes the verification off the schedule, moves the
-- link in the attention index and, last, wakes the session's waiters. On a Redis Cluster those
-- keys live in other slots: the store leaves them out and writes them after the script, then
-- announces (`redis/verify.rs`).
--
-- KEYS[1] link hash
-- KEYS[2] link health history list
-- KEYS[3] the day's funnel counters hash of the link's shard (the link's hash tag)
-- KEYS[4] the outbox stream of the link's shard (written only when ARGV[6] says events go out)
-- KEYS[5] the due set: this and the keys after it on a single server only
-- KEYS[6] ... the attention index of each health but `ok` (`<prefix>:{health}:<health>`), then
--         the owner's link set (only when matched) as the last key
-- ARGV[1] link id
-- ARGV[2] session id
-- ARGV[3] matched: "1" when Belvo's record is the session's (owner and institution), else "0"
-- ARGV[4] now, ms
-- ARGV[5] the counters' expiry (unix ms, PEXPIREAT)
-- ARGV[6] "1" when link events go out
-- ARGV[7] events channel
-- ARGV[8] the verification's due member (`v:<session>:<link>`)
-- ARGV[9] owner (external id); this and the arguments after it only when matched
-- ARGV[10] product
-- ARGV[11] institution (Belvo's)
-- ARGV[12] link retention, ms
-- ARGV[13] the session's funnel counter prefix
-- ARGV[14] "1" when an update session reconnected the link
-- ARGV[15] the status of Belvo's record ("" = one we do not know: health unchanged)
-- ARGV[16] its message ("" = none)
-- ARGV[17] max health history entries
-- ARGV[18] the link check's due member (`c:<link>`)
-- ARGV[19] the first check's due time, ms
-- ARGV[20] ... the product's fetch resources
-- Reply: {claimed, theirs, counted, transitions}: claimed "1" (claimed), "0" (another owner
--        holds the link) or "" (not matched); theirs "1" when the link is the session's (its
--        waiters are to be woken); counted the funnel fields counted; transitions the health
--        changes applied, four strings each: from ("" = never set), to, reason code, message.
local link, history, counters = KEYS[1], KEYS[2], KEYS[3]
local stream = nil
if ARGV[6] == '1' then stream = KEYS[4] end
local link_id, session_id, matched, now = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local expiry, one_server = ARGV[5], #KEYS > 4
local claimed, counted, transitions = '', {}, {}

-- On a single server the attention index moves with the change (a cluster's store moves it).
-- Their number follows `Health` (the Rust side passes one per health but `ok`), so it is
-- counted here, not assumed.
local last_index = #KEYS
if matched then last_index = #KEYS - 1 end
local function index_of(health)
  for i = 6, last_index do
    if string.sub(KEYS[i], -#health - 1) == ':' .. health then return KEYS[i] end
  end
  return error('no attention index for ' .. health)
end
local function health(change, code, message)
  -- The link exists: the claim above wrote it, or another owner holds it.
  local t = apply_health(link, history, stream, link_id, change, code, message, now,
    tonumber(ARGV[17]), {}, true)
  -- Unreachable (the store passes only statuses `apply_health` knows); were it reached, the
  -- claim above stays written (a script is not rolled back) and the verification is retried.
  if t.err then error(t.err) end
  if #t == 0 then return end
  for i = 1, 4 do transitions[#transitions + 1] = t[i] end
  local from, to = (t[1] == '' and 'ok' or t[1]), t[2]
  if one_server and from ~= to then
    if from ~= 'ok' then redis.call('ZREM', index_of(from), link_id) end
    if to ~= 'ok' then redis.call('ZADD', index_of(to), now, link_id) end
  end
end

if matched then
  local expected = {}
  for i = 20, #ARGV do expected[#expected + 1] = ARGV[i] end
  local ready = claim_link(link, counters, stream, link_id, ARGV[9], ARGV[10], ARGV[11],
    ARGV[12], now, ARGV[13], expiry, expected)
  claimed = ready and '1' or '0'
  if ready and ready ~= '' then counted[#counted + 1] = ready end
  if ARGV[14] == '1' then health('reconnected', '', '') end
  if ARGV[15] ~= '' then health('record', ARGV[15], ARGV[16]) end
  if one_server then
    if claimed == '1' then
      redis.call('SADD', KEYS[#KEYS], link_id)
      redis.call('PEXPIRE', KEYS[#KEYS], ARGV[12])
    end
    redis.call('ZADD', KEYS[5], 'NX', ARGV[19], ARGV[18])
  end
end
local theirs, step = set_verdict(link, counters, stream, link_id, session_id,
  matched and '1' or '0', now, expiry)
if step ~= '' then counted[#counted + 1] = step end
if one_server then
  redis.call('ZREM', KEYS[5], ARGV[8])
  if theirs then redis.call('PUBLISH', ARGV[7], session_id) end
end
return {claimed, theirs and '1' or '0', counted, transitions}
