-- The bare floor's success callback (bench/floor: one MULTI of HSET and EXPIRE, then a 302),
-- spread over many sessions with a new link id each, as success.lua. Arguments: ids file.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local ids

function init(args)
  ids = bench.load_ids(args[1])
  bench.seed()
end

function request()
  return wrk.format("GET", "/bare/callbacks/" .. bench.pick(ids) ..
    "/success?link=" .. bench.uuid() .. "&institution=planet_mx_employment")
end
