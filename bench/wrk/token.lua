-- The emulator's own token call, with the body the BFF sends for mx_employment: the baseline
-- that session creation is compared with. Arguments: base URL of the BFF (for callback URLs).
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local req

function init(args)
  local base = args[1]
  local id = "00000000-0000-4000-8000-000000000000"
  local body = string.format(
    '{"id":"dev-secret-id","password":"dev-secret-password",' ..
    '"scopes":"read_institutions,write_links","stale_in":"365d",' ..
    '"fetch_resources":["EMPLOYMENT_RECORDS"],"widget":{"callback_urls":{' ..
    '"success":"%s/callbacks/%s/success","exit":"%s/callbacks/%s/exit",' ..
    '"event":"%s/callbacks/%s/event"},"branding":{"company_name":"ACME"}}}',
    base, id, base, id, base, id)
  req = wrk.format("POST", "/emulator/api/token/",
    { ["Content-Type"] = "application/json" }, body)
end

function request()
  return req
end
