-- wrk: GET /api/v1/products/{id} with If-None-Match naming the product's current ETag, a random
-- product per request, so every answer is a 304 without a body (issue 13's conditional GET).
-- Environment: PRODUCT_TAGS_FILE, one line per product, "<id> <etag>" (the ETag as the server sent
-- it, quotes included); scripts/bench.sh writes it with curl right before the run. A tag that is
-- no longer current (the product changed) gets a 200 instead: bench.sh counts the answers by status.
--   PRODUCT_TAGS_FILE=tags.txt wrk -t1 -c32 -d5s -s bench/product-get-conditional.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local file = os.getenv("PRODUCT_TAGS_FILE") or error("PRODUCT_TAGS_FILE is not set")
local requests = {}

-- In init, not at load: wrk sets the Host header (which wrk.format copies) just before init.
init = function(args)
  for line in io.lines(file) do
    local id, tag = line:match("^(%d+) (\"[^\"]*\")$")
    if id then
      -- Formatted once here, so a request costs no more Lua than product-get.lua's.
      table.insert(requests, wrk.format("GET", "/api/v1/products/" .. id, {["If-None-Match"] = tag}))
    end
  end
  if #requests == 0 then error("no \"<id> <etag>\" line in " .. file) end
end

request = function()
  return requests[math.random(1, #requests)]
end
