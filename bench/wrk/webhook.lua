-- Belvo's historical_update webhook (MX employment guide), each with a new webhook_id, spread
-- over the links of many finished sessions. Arguments: links file, webhook bearer token,
-- the links' owner external_id.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local links, headers, external_id

function init(args)
  links = bench.load_ids(args[1])
  headers = {
    ["Authorization"] = "Bearer " .. args[2],
    ["Content-Type"] = "application/json",
  }
  external_id = args[3]
  bench.seed()
end

function request()
  local body = string.format(
    '{"webhook_id":"%s","webhook_type":"EMPLOYMENT_RECORDS","process_type":"historical_update",' ..
    '"webhook_code":"historical_update","link_id":"%s","request_id":"%s",' ..
    '"external_id":"%s","data":{"total_employment_record_profiles":1}}',
    bench.uuid():gsub("-", ""), bench.pick(links), bench.uuid(), external_id)
  return wrk.format("POST", "/webhooks/belvo", headers, body)
end
