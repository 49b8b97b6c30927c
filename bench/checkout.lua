-- wrk: the checkout case. Run it with as many threads as connections (-tN -cN): each wrk thread has
-- one connection and its own customer (the N-th token of STOCKROOM_TOKENS), so a connection's
-- requests follow one another on one cart and never race with another connection's. Each
-- connection clears its cart once (DELETE /api/v1/cart), then repeats the cycle
--   POST /api/v1/cart/items    three times, three different random products, one unit each
--   PUT  /api/v1/cart/promo-code   {"code": PROMO_CODE}
--   POST /api/v1/cart/checkout     (no body): 201, an order of 3 lines with the code; cart empty
-- The step moves on when the answer arrives (whatever it is), so a failed step is counted, not
-- retried. Every answer is counted by step and status; the report adds one line to BENCH:
--   CHECKOUT duration_s=S checkouts=N checkouts_per_s=R checkout_status=201:N[,...] checkouts_non201=N
--            adds=N add_status=200:N[,...] adds_non200=N codes=N code_status=... codes_non200=N
--            clears=N clears_non204=N
-- checkouts_per_s counts only the 201s of POST /api/v1/cart/checkout over the measured time: a
-- complete cart-to-order flow per checkout (5 requests), not the checkout request alone.
-- Environment: STOCKROOM_TOKENS (N customers' bearer tokens, comma-separated, N >= the threads),
-- PROMO_CODE (a live code without limits; or several, comma-separated: thread i then uses the i-th,
-- round robin, e.g. one code per connection so that no two checkouts share a code's row),
-- PRODUCT_FIRST, PRODUCT_LAST (at least 3 products).
--   STOCKROOM_TOKENS=t1,t2,... PROMO_CODE=SAVE10 PRODUCT_FIRST=1 PRODUCT_LAST=1000 \
--     wrk -t32 -c32 -d5s -s bench/checkout.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local first = tonumber(os.getenv("PRODUCT_FIRST") or "1")
local last = tonumber(os.getenv("PRODUCT_LAST") or first)
local codes = {}
for text in string.gmatch(os.getenv("PROMO_CODE") or "", "[^,]+") do table.insert(codes, text) end
if #codes == 0 then error("PROMO_CODE is not set") end
local tokens = {}
for token in string.gmatch(os.getenv("STOCKROOM_TOKENS") or "", "[^,]+") do table.insert(tokens, token) end
if #tokens == 0 then error("STOCKROOM_TOKENS is not set") end
if last - first < 2 then error("need at least 3 products in PRODUCT_FIRST..PRODUCT_LAST") end

local threads = {}

setup = function(thread)
  table.insert(threads, thread)
  local i = #threads
  if i > #tokens then
    io.stderr:write(string.format("checkout.lua: %d threads but only %d tokens in STOCKROOM_TOKENS\n", i, #tokens))
    os.exit(2)
  end
  thread:set("index", i)
  thread:set("token", tokens[i])
  thread:set("code", codes[(i - 1) % #codes + 1])
end

-- Per thread (each thread's globals live in its own Lua state).
counts = {}
local steps = {"add", "add", "add", "code", "checkout"}
local step = 0 -- 0: the first request, DELETE /api/v1/cart; then 1..5
local picked = {}
local plain, json

init = function(args)
  math.randomseed(index * 7919 + os.time())
  plain = {["Authorization"] = "Bearer " .. token}
  json = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

-- Three different products per cycle.
local function pick()
  picked = {}
  local seen = {}
  while #picked < 3 do
    local id = math.random(first, last)
    if not seen[id] then
      seen[id] = true
      table.insert(picked, id)
    end
  end
end

request = function()
  if step == 0 then
    return wrk.format("DELETE", "/api/v1/cart", plain)
  end
  local kind = steps[step]
  if kind == "add" then
    if step == 1 then pick() end
    return wrk.format("POST", "/api/v1/cart/items", json,
      '{"product_id":' .. picked[step] .. ',"quantity":1}')
  elseif kind == "code" then
    return wrk.format("PUT", "/api/v1/cart/promo-code", json, '{"code":"' .. code .. '"}')
  else
    return wrk.format("POST", "/api/v1/cart/checkout", plain)
  end
end

response = function(status, headers, body)
  local kind = (step == 0) and "clear" or steps[step]
  local key = kind .. ":" .. status
  counts[key] = (counts[key] or 0) + 1
  step = step % #steps + 1
end

done = function(summary, latency, requests)
  bench_report(summary, latency)
  -- thread:get copies the table from the thread's Lua state into this one.
  local total = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts") or {}) do
      total[key] = (total[key] or 0) + n
    end
  end
  local function line(kind, good)
    local statuses, parts, all, bad = {}, {}, 0, 0
    for key, n in pairs(total) do
      local k, status = key:match("^(%a+):(%d+)$")
      if k == kind then table.insert(statuses, tonumber(status)) end
    end
    table.sort(statuses)
    for _, status in ipairs(statuses) do
      local n = total[kind .. ":" .. status]
      table.insert(parts, status .. ":" .. n)
      all = all + n
      if status ~= good then bad = bad + n end
    end
    return all, bad, (#parts > 0 and table.concat(parts, ",") or "none")
  end
  local seconds = summary.duration / 1e6
  local c, cbad, ctext = line("checkout", 201)
  local a, abad, atext = line("add", 200)
  local p, pbad, ptext = line("code", 200)
  local d, dbad = line("clear", 204)
  io.write(string.format(
    "CHECKOUT duration_s=%.3f checkouts=%d checkouts_per_s=%.1f checkout_status=%s checkouts_non201=%d " ..
    "adds=%d add_status=%s adds_non200=%d codes=%d code_status=%s codes_non200=%d clears=%d clears_non204=%d\n",
    seconds, c - cbad, (c - cbad) / seconds, ctext, cbad, a, atext, abad, p, ptext, pbad, d, dbad))
end
