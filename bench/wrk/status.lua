-- Status reads spread over many sessions, as the app polls after the widget closes.
-- Arguments: ids file, app JWT of the sessions' owner.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local ids, headers

function init(args)
  ids = bench.load_ids(args[1])
  headers = { ["Authorization"] = "Bearer " .. args[2] }
  bench.seed()
end

function request()
  return wrk.format("GET", "/v1/widget-sessions/" .. bench.pick(ids), headers)
end
