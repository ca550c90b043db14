-- Keeps a status-page report for an institution (SPEC §14): a report older than the kept one
-- is ignored; one repeating the kept status keeps the kept `since`. Mirrors `merge_report`.
--
-- KEYS[1] the status-page hash (institution code → report JSON)
-- ARGV[1] institution code
-- ARGV[2] the new report, JSON: {status, since, at, component, incident?}
-- Reply: the report kept now, JSON.
local hash, code, new = KEYS[1], ARGV[1], ARGV[2]
local kept = redis.call('HGET', hash, code)
local report = cjson.decode(new)
if kept then
  local old = cjson.decode(kept)
  if tonumber(old.at) > tonumber(report.at) then
    return kept
  end
  if old.status == report.status then
    report.since = old.since
    new = cjson.encode(report)
  end
end
redis.call('HSET', hash, code, new)
return new
