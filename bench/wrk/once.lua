-- Each line of a file of request paths sent exactly once: requests that cannot be repeated
-- (a session's first success, the callback that finishes it). Arguments: paths file, wrk's
-- thread count. Thread k of T sends lines k, k+T, k+2T, ... and stops once all of its lines
-- are answered; its other connections meanwhile get `GET /healthz` (at most one each, at the
-- very end). wrk itself runs until -d, so the summary's requests/s is computed here: the lines
-- answered over the time from the first line sent to the last answered (the whole run when a
-- thread did not finish its lines). A second line, BENCH_ONCE, says whether every line was sent,
-- and the lines sent are written to PATHS.sent (for replaying exactly those).
package.path = "bench/wrk/?.lua;" .. package.path
local bench = require("common")
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local clock = ffi.new("bench_timeval")
local function now_us()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_usec)
end

local threads = {}
function setup(thread)
  bench.setup(thread)
  threads[#threads + 1] = thread
end

local lines = {}
-- Read back by done() through thread:get: lines of this thread, sent, answered, µs clock.
share, sent, answered, first_us, last_us = 0, 0, 0, 0, 0
paths_file, thread_count = nil, 1
local dry_run_done = false

function init(args)
  local all = bench.load_ids(args[1])
  local count = tonumber(args[2])
  paths_file, thread_count = args[1], count
  for i = thread_number, #all, count do
    lines[#lines + 1] = all[i]
  end
  share = #lines
end

function request()
  -- wrk builds one request of the first thread before the run to check it: not a real one.
  if thread_number == 1 and not dry_run_done then
    dry_run_done = true
    return wrk.format("GET", "/healthz")
  end
  if sent >= #lines then
    return wrk.format("GET", "/healthz")
  end
  sent = sent + 1
  if first_us == 0 then first_us = now_us() end
  return wrk.format("GET", lines[sent])
end

function response(status)
  -- /healthz answers 200; the lines' callbacks 302 (or an error, which wrk counts).
  if status == 200 then return end
  answered = answered + 1
  if answered >= share then
    last_us = now_us()
    wrk.thread:stop()
  end
end

function done(summary, latency, _)
  local lines_total, lines_answered, first, last, finished = 0, 0, nil, 0, true
  for _, thread in ipairs(threads) do
    local s, a, f, l = thread:get("share"), thread:get("answered"), thread:get("first_us"),
      thread:get("last_us")
    lines_total, lines_answered = lines_total + s, lines_answered + a
    if f > 0 and (first == nil or f < first) then first = f end
    if a < s then finished = false elseif l > last then last = l end
  end
  local span = summary.duration
  if finished and first ~= nil and last > first then span = last - first end
  bench.done({ requests = lines_answered, duration = span, errors = summary.errors }, latency)
  -- The lines sent, in the order of the file: thread k sent its first `sent` lines.
  local all = bench.load_ids(threads[1]:get("paths_file"))
  local count = threads[1]:get("thread_count")
  local out = assert(io.open(threads[1]:get("paths_file") .. ".sent", "w"))
  for k, thread in ipairs(threads) do
    for i = 1, thread:get("sent") do
      out:write(all[k + (i - 1) * count], "\n")
    end
  end
  out:close()
  io.write(string.format('BENCH_ONCE {"lines":%d,"answered":%d,"finished":%s,"seconds":%.3f}\n',
    lines_total, lines_answered, tostring(finished), span / 1e6))
end
