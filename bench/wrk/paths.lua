-- Requests picked at random from a file of request paths, one a line (e.g. success callbacks
-- already sent once: each is then a replay). Arguments: paths file.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local paths

function init(args)
  paths = bench.load_ids(args[1])
  bench.seed()
end

function request()
  return wrk.format("GET", bench.pick(paths))
end
