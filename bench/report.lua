-- wrk: the report every bench script prints at the end, one machine-readable line:
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B non2xx=N socket_errors=N
-- non2xx is wrk's own count of responses with a status above 399 (nothing here answers 1xx/3xx);
-- socket_errors adds up connect, read, write and timeout errors.
-- Used alone for a plain GET (wrk -s bench/report.lua URL), and loaded by the other scripts with
--   dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

function bench_report(summary, latency)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end

done = function(summary, latency, requests)
  bench_report(summary, latency)
end
