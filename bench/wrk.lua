-- One benchmark request: the shape's query (BENCH_QUERY, set by bench/run.py) with `first` drawn per request from
-- BENCH_FIRST_MIN..BENCH_FIRST_MAX, so no cache or deduplication can answer from an identical earlier request.
-- Counts bad responses (not 200, an "errors" key, or no "topProducts") per thread.
local query = os.getenv("BENCH_QUERY")
local first_min = tonumber(os.getenv("BENCH_FIRST_MIN") or "1")
local first_max = tonumber(os.getenv("BENCH_FIRST_MAX") or "10")
local threads = {}
local bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + math.random(1, 100000))
end

request = function()
  local body = string.format('{"query":"%s","variables":{"first":%d}}', query, math.random(first_min, first_max))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) or not string.find(body, '"topProducts"', 1, true) then
    bad = bad + 1
  end
end

done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
  io.write(string.format("BAD_RESPONSES %d\n", total))
  for _, p in ipairs({50, 99}) do
    io.write(string.format("LATENCY_P%d_US %d\n", p, latency:percentile(p)))
  end
end
