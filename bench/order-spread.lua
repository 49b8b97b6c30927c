-- wrk: POST /api/v1/orders, one unit of a random product among PRODUCT_FIRST..PRODUCT_LAST.
-- Environment: STOCKROOM_TOKEN (a customer's bearer token), PRODUCT_FIRST, PRODUCT_LAST, and
-- PRODUCT_STEP (default 1): the ids are PRODUCT_FIRST, PRODUCT_FIRST + PRODUCT_STEP, ... up to
-- PRODUCT_LAST (a Galera cluster hands out ids in steps of its size: auto_increment_increment).
--   STOCKROOM_TOKEN=... PRODUCT_FIRST=1 PRODUCT_LAST=1000 \
--     wrk -t1 -c32 -d5s -s bench/order-spread.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local token = os.getenv("STOCKROOM_TOKEN") or error("STOCKROOM_TOKEN is not set")
local first = tonumber(os.getenv("PRODUCT_FIRST") or "1")
local last = tonumber(os.getenv("PRODUCT_LAST") or first)
local step = tonumber(os.getenv("PRODUCT_STEP") or "1")
local count = math.floor((last - first) / step)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

request = function()
  local id = first + step * math.random(0, count)
  return wrk.format(nil, "/api/v1/orders", nil, '{"product_id":' .. id .. ',"quantity":1}')
end
