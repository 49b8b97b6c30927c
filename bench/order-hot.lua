-- wrk: POST /api/v1/orders, one unit of one product (PRODUCT_FIRST): every order contends for one row.
-- Environment: STOCKROOM_TOKEN, PRODUCT_FIRST.
local token = os.getenv("STOCKROOM_TOKEN")
local id = tonumber(os.getenv("PRODUCT_FIRST") or "1")
wrk.method = "POST"
wrk.path = "/api/v1/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"product_id":' .. id .. ',"quantity":1}'

done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
