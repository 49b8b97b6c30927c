-- wrk: GET /health/live (the FastCGI round trip with no database work). A plain GET; this script
-- only adds the bench report line.
--   wrk -t1 -c32 -d5s -s bench/health-live.lua http://127.0.0.1:8080/health/live
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
wrk.method = "GET"
wrk.path = "/health/live"
