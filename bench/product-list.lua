-- wrk: GET /api/v1/products?limit=20 (the first page of 20 products).
--   wrk -t1 -c32 -d5s -s bench/product-list.lua http://127.0.0.1:8080
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
wrk.method = "GET"
wrk.path = "/api/v1/products?limit=20"
