"""Issue 2: a burst of 200 concurrent clients through nginx completes with no 502/504 and no hang."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.client import Api, assert_status

CLIENTS = 200
BURST_TIMEOUT = 30  # seconds for a single request and for the whole burst


def test_burst_of_200_clients(url):
    barrier = threading.Barrier(CLIENTS)

    def client(_):
        api = Api(url)  # its own connection
        try:
            barrier.wait(timeout=30)
            results = []
            for path in ("/health/live", "/api/v1/products"):
                try:
                    r = api.get(path, timeout=BURST_TIMEOUT)
                    results.append((path, r.status_code, r.headers.get("Content-Type", "")))
                except Exception as exc:  # timeouts, resets: reported, not raised
                    results.append((path, type(exc).__name__, ""))
            return results
        finally:
            api.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        outcomes = [item for result in pool.map(client, range(CLIENTS)) for item in result]
    elapsed = time.monotonic() - started

    tally = Counter((path, status) for path, status, _ in outcomes)
    assert len(outcomes) == 2 * CLIENTS
    assert tally == Counter({("/health/live", 200): CLIENTS, ("/api/v1/products", 200): CLIENTS}), (
        f"outcomes: {dict(tally)} in {elapsed:.1f} s"
    )
    assert all(ctype.split(";")[0].strip() == "application/json" for _, _, ctype in outcomes)
    assert elapsed < BURST_TIMEOUT, f"burst took {elapsed:.1f} s"
    # and the service is still fine afterwards
    api = Api(url)
    assert_status(api.get("/health"), 200)
    api.close()
