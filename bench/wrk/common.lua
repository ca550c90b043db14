-- Shared by the wrk scripts of scripts/bench.sh: session ids, random UUIDs, and a summary line
-- the script parses (wrk's own text output is kept in the logs for people).
local M = {}

local threads = 0

-- Gives each thread its own number, so each seeds its random generator differently.
function M.setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function M.seed()
  math.randomseed(os.time() * 1000 + (thread_number or 0))
end

-- Reads session ids, one a line.
function M.load_ids(path)
  local ids = {}
  for line in io.lines(path) do
    if line ~= "" then ids[#ids + 1] = line end
  end
  assert(#ids > 0, "no session ids in " .. path)
  return ids
end

function M.pick(ids)
  return ids[math.random(#ids)]
end

-- A random version-4 UUID, built from 16-bit pieces to stay within LuaJIT's integer formatting.
function M.uuid()
  local r = function() return math.random(0, 0xffff) end
  return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
    r(), r(), r(), r() % 0x1000, 0x8000 + r() % 0x4000, r(), r(), r())
end

-- One machine-readable line; latencies in microseconds.
function M.done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end

return M
