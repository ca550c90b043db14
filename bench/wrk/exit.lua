-- Exit callbacks spread over many sessions with Belvo's query for a user who gave up after a
-- login error. The query is fixed, so after the first one per session these are replays
-- (counted once; still one Redis round trip). Arguments: ids file.
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
    "/exit?last_encountered_error_code=login_error&meta_data_step=abandon-survey")
end
