-- wrk: the soak. Mixed reads and orders at once; run it with 2 threads (or any even number):
-- odd-numbered wrk threads are readers (GET /api/v1/products/{random id} 4 times out of 5, else
-- GET /api/v1/products?limit=20), even-numbered ones are buyers (POST /api/v1/orders, one unit of a
-- random product). Each thread counts the status codes of its own responses, so the report tells
-- the readers' non-2xx apart from the buyers' non-201:
--   SOAK reads=N reads_non2xx=N reads_status=200:N[,...] orders=N orders_non201=N orders_status=201:N[,...]
-- Environment: STOCKROOM_TOKEN (a customer's bearer token), PRODUCT_FIRST, PRODUCT_LAST.
--   STOCKROOM_TOKEN=... PRODUCT_FIRST=1 PRODUCT_LAST=1000 \
--     wrk -t2 -c32 -d60s -s bench/soak-mixed.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local token = os.getenv("STOCKROOM_TOKEN") or error("STOCKROOM_TOKEN is not set")
local first = tonumber(os.getenv("PRODUCT_FIRST") or "1")
local last = tonumber(os.getenv("PRODUCT_LAST") or first)

local threads = {}

setup = function(thread)
  table.insert(threads, thread)
  thread:set("index", #threads)
end

counts = {}

init = function(args)
  buyer = (index % 2 == 0)
  math.randomseed(index * 7919 + os.time())
  wrk.headers["Content-Type"] = nil
  if buyer then
    wrk.headers["Authorization"] = "Bearer " .. token
    wrk.headers["Content-Type"] = "application/json"
  end
end

request = function()
  local id = math.random(first, last)
  if buyer then
    return wrk.format("POST", "/api/v1/orders", nil, '{"product_id":' .. id .. ',"quantity":1}')
  elseif math.random(5) == 1 then
    return wrk.format("GET", "/api/v1/products?limit=20")
  else
    return wrk.format("GET", "/api/v1/products/" .. id)
  end
end

response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

done = function(summary, latency, requests)
  bench_report(summary, latency)
  -- thread:get copies a table from the thread's Lua state into this one.
  local total = {reads = {}, orders = {}}
  for _, thread in ipairs(threads) do
    local kind = (thread:get("index") % 2 == 0) and "orders" or "reads"
    for status, n in pairs(thread:get("counts") or {}) do
      total[kind][status] = (total[kind][status] or 0) + n
    end
  end
  local function line(kind, good)
    local keys, parts, all, bad = {}, {}, 0, 0
    for k in pairs(total[kind]) do table.insert(keys, k) end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local n = total[kind][k]
      table.insert(parts, k .. ":" .. n)
      all = all + n
      if not good(k) then bad = bad + n end
    end
    return all, bad, (#parts > 0 and table.concat(parts, ",") or "none")
  end
  local r, rbad, rtext = line("reads", function(s) return s >= 200 and s < 300 end)
  local o, obad, otext = line("orders", function(s) return s == 201 end)
  io.write(string.format("SOAK reads=%d reads_non2xx=%d reads_status=%s orders=%d orders_non201=%d orders_status=%s\n",
    r, rbad, rtext, o, obad, otext))
end
