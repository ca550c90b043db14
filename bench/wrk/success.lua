-- Success callbacks spread over many sessions, each with a new link id: the widget's redirect
-- after a connection. Arguments: ids file.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local ids

function init(args)
  ids = bench.load_ids(args[1])
  bench.seed()
end

function request()
  return wrk.format("GET", "/callbacks/" .. bench.pick(ids) ..
    "/success?link=" .. bench.uuid() .. "&institution=planet_mx_employment")
end
