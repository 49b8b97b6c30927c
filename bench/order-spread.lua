-- wrk: POST /api/v1/orders, one unit of a random product among PRODUCT_FIRST..PRODUCT_LAST.
-- Environment: STOCKROOM_TOKEN (a customer's bearer token), PRODUCT_FIRST, PRODUCT_LAST.
local token = os.getenv("STOCKROOM_TOKEN")
local first = tonumber(os.getenv("PRODUCT_FIRST") or "1")
local last = tonumber(os.getenv("PRODUCT_LAST") or first)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

request = function()
  local id = math.random(first, last)
  return wrk.format(nil, "/api/v1/orders", nil, '{"product_id":' .. id .. ',"quantity":1}')
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
