-- wrk: GET /api/v1/products/{id}, a random id among PRODUCT_FIRST..PRODUCT_LAST per request.
-- Environment: PRODUCT_FIRST, PRODUCT_LAST, and PRODUCT_STEP (default 1): the ids are
-- PRODUCT_FIRST, PRODUCT_FIRST + PRODUCT_STEP, ... up to PRODUCT_LAST (as in order-spread.lua).
--   PRODUCT_FIRST=1 PRODUCT_LAST=1000 wrk -t1 -c32 -d5s -s bench/product-get.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local first = tonumber(os.getenv("PRODUCT_FIRST") or "1")
local last = tonumber(os.getenv("PRODUCT_LAST") or first)
local step = tonumber(os.getenv("PRODUCT_STEP") or "1")
local count = math.floor((last - first) / step)
wrk.method = "GET"

request = function()
  return wrk.format(nil, "/api/v1/products/" .. (first + step * math.random(0, count)))
end
