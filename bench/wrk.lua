-- One benchmark request: the same 4-subgraph query for every gateway, with `first` varied per request so no
-- cache or deduplication can answer from an identical earlier request. Counts bad responses per thread.
local query = "query Top($first: Int) { topProducts(first: $first) { upc name price inStock shippingEstimate "
  .. "reviews { id body author { id username name } } } }"
local threads = {}
local bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + math.random(1, 100000))
end

request = function()
  local body = string.format('{"query":"%s","variables":{"first":%d}}', query, math.random(1, 10))
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
