"""The front nginx itself (nginx/front.conf.template), before any fault: it spreads requests over
both app hosts, gives each request one id that both nginx tiers and the responder use (the
client's well-formed X-Request-Id, else the front's own), returns it as X-Request-Id and logs it
next to the app host that answered, and never serves /metrics or /metrics/N (in any spelling nginx
normalises to them) to a client: 404 in the contract's error shape."""

import re
import uuid

from stockroom_kit.client import Api, assert_error
from stockroom_kit.cluster import APP_PORT, app_hosts, front_lines, front_log_size, responder_lines, served_by
from stockroom_kit.stack import log_size, read_log_from, wait_for


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


def test_front_passes_a_client_request_id_through_both_tiers(case_report):
    """A client's X-Request-Id comes back, and names the request's line in the front's access log,
    in the access log of the app host that answered and in that host's responder log (a failed
    login is logged at info with request.id); an ill-formed one is replaced by one id that the
    front and the app host share."""
    offset = front_log_size()
    hosts = app_hosts()
    app_offsets = {h.n: log_size(h.dir / "nginx" / "access.log") for h in hosts}
    client_id = f"front-{uuid.uuid4().hex[:12]}"
    api = Api()
    try:
        r = api.post("/api/v1/auth/login", json={"username": f"nobody_{uuid.uuid4().hex[:8]}", "password": "x" * 12},
                     headers={"X-Request-Id": client_id}, timeout=5)
        assert r.status_code == 401, r.text
        assert r.headers.get("X-Request-Id") == client_id, r.headers
        bad = api.get("/health", headers={"X-Request-Id": "not well formed!"}, timeout=5)
        assert bad.status_code == 200, bad.text
        replaced = bad.headers.get("X-Request-Id")
        assert replaced and re.fullmatch(r"[0-9a-f]{32}", replaced), bad.headers
        # The front's own answers carry it too: a body over 64 KiB never reaches an app host.
        big = api.post("/api/v1/orders", data=b"x" * 70_000, timeout=5,
                       headers={"Content-Type": "application/json", "X-Request-Id": client_id + "-413"})
        assert big.status_code == 413 and big.headers.get("X-Request-Id") == client_id + "-413", big.headers
    finally:
        api.close()

    def logged(request_id: str) -> tuple[dict[str, str], list[int]] | None:
        front = [line for line in front_lines(offset) if line["id"] == request_id]
        apps = [h.n for h in hosts if f"id={request_id}" in read_log_from(h.dir / "nginx" / "access.log", app_offsets[h.n])]
        return (front[0], apps) if front and apps else None

    for request_id in (client_id, replaced):
        found = wait_for(lambda: logged(request_id), 5, 0.1)
        assert found, f"{request_id}: not in the front's log and an app host's access log"
        assert len(found[1]) == 1, f"{request_id} in the access logs of app hosts {found[1]}"
    assert wait_for(lambda: responder_lines([client_id]), 5, 0.1), f"{client_id} not in any responder log"
    case_report.add("X-Request-Id through the front",
                    "a client's id: echoed, in the front's, the app host's and the responder's logs; "
                    "an ill-formed one: replaced by one id in both tiers")


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
