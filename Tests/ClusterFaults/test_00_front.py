"""The front nginx itself (nginx/front.conf.template), before any fault: it spreads requests over
both app hosts, passes the app host's X-Request-Id through to the client (and logs it next to the
app host that answered), and never serves /metrics or /metrics/N (in any spelling nginx
normalises to them) to a client: 404 in the contract's error shape."""

import uuid

from stockroom_kit.client import Api, assert_error
from stockroom_kit.cluster import APP_PORT, app_hosts, front_lines, front_log_size, served_by
from stockroom_kit.stack import wait_for


def test_front_spreads_requests_and_passes_request_ids(case_report):
    offset = front_log_size()
    api = Api()
    try:
        ids = []
        for _ in range(40):
            r = api.get("/health", timeout=5)
            assert r.status_code == 200, r.text
            ids.append(r.headers.get("X-Request-Id"))
    finally:
        api.close()
    assert all(ids) and len(set(ids)) == len(ids), f"X-Request-Id missing or repeated: {ids}"

    def all_logged() -> list[dict[str, str]] | None:
        got = front_lines(offset)
        return got if len(got) >= 40 else None

    lines = wait_for(all_logged, 5, 0.1)
    assert lines, f"the front logged {len(front_lines(offset))} of 40 requests"
    logged = {line["id"] for line in lines}
    assert set(ids) <= logged, f"ids the client got but the front did not log: {sorted(set(ids) - logged)[:5]}"
    served = served_by(lines)
    case_report.add("40 GET /health", f"served by {served}; every X-Request-Id the client got is in the front's log")
    assert set(served) == {f"{h.address}:{APP_PORT}" for h in app_hosts()}, f"not spread over both app hosts: {served}"


def test_front_never_serves_metrics(case_report):
    api = Api()
    try:
        for path in ("/metrics", "//metrics", "/%6Detrics", "/./metrics", "/metrics/1", "//metrics/2"):
            assert_error(api.get(path, timeout=5), 404, "not_found")
        # The app hosts' own answer for an unknown path, for comparison: the same shape.
        assert_error(api.get(f"/no-such-{uuid.uuid4().hex}", timeout=5), 404, "not_found")
    finally:
        api.close()
    case_report.add("/metrics through the front", "404 not_found, also as //metrics, /%6Detrics, /./metrics and the per-process /metrics/N")
