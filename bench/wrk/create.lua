-- Session creation: the app asks for a Mexican employment widget session.
-- Arguments: app JWT.
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
setup, done = bench.setup, bench.done

local req

function init(args)
  req = wrk.format("POST", "/v1/widget-sessions", {
    ["Authorization"] = "Bearer " .. args[1],
    ["Content-Type"] = "application/json",
  }, '{"product":"mx_employment","platform":"ios"}')
end

function request()
  return req
end
