-- wrk: POST /api/v1/orders, one unit of one product (PRODUCT_FIRST): every order contends for one row.
-- Environment: STOCKROOM_TOKEN (a customer's bearer token), PRODUCT_FIRST.
--   STOCKROOM_TOKEN=... PRODUCT_FIRST=1 wrk -t1 -c32 -d5s -s bench/order-hot.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local token = os.getenv("STOCKROOM_TOKEN") or error("STOCKROOM_TOKEN is not set")
local id = tonumber(os.getenv("PRODUCT_FIRST") or "1")
wrk.method = "POST"
wrk.path = "/api/v1/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"product_id":' .. id .. ',"quantity":1}'
