-- Openings of widget_url (/w/{id}) spread over many pending sessions whose token has time left,
-- as apps reopen the widget: counted, then a 302 to the widget with the stored token.
-- Arguments: ids file.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local ids

function init(args)
  ids = bench.load_ids(args[1])
  bench.seed()
end

function request()
  return wrk.format("GET", "/w/" .. bench.pick(ids))
end
