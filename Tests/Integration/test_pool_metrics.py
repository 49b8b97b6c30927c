"""Issue 12: the responder pool's metrics move as they should (php-fpm's status page, per process).

- Connections that take every thread: accepted connections grow by each one, the pool counts a
  saturation event, and the connections left over wait in the listen queue, which the longest
  queue seen keeps.
- A burst of slow requests through nginx: busy threads above the scrape's own, new upstream
  connections accepted, and with STOCKROOM_SLOW_REQUEST_MS at 1 (a reload) every one counted as
  slow and logged as a warning naming its route, method, status, duration and request id.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.client import PASSWORD, Api, unique_name
from stockroom_kit.metrics import responder_target, scrape
from stockroom_kit.plugin import observe
from stockroom_kit.stack import ResponderSettings, log_size, read_log_from, responder_indexes, responder_socket, stack_dir

EXTRA = 8  # connections beyond the thread count: they wait in the listen queue
BURST = 40  # concurrent registrations (argon2id, a few tens of ms of CPU each)
ROUTE = "/api/v1/auth/register"


def test_connections_taking_every_thread_saturate_the_pool_and_queue():
    index = responder_indexes()[0]
    before = scrape(responder_target(index))
    threads = int(before.value("stockroom_fastcgi_threads"))
    held: list[socket.socket] = []
    try:
        # Silent connections, each taking a thread in turn (it waits for a first request); the
        # idle monitor drops them after STOCKROOM_IDLE_TIMEOUT (3 s), so hold them for less.
        for _ in range(threads + EXTRA):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(responder_socket(index))
            held.append(sock)
        time.sleep(1.0)  # four ticks of the monitor's queue sampling
    finally:
        for sock in held:
            sock.close()
    after = scrape(responder_target(index))
    accepted = after.value("stockroom_fastcgi_accepted_connections_total") - \
        before.value("stockroom_fastcgi_accepted_connections_total")
    saturations = after.value("stockroom_fastcgi_saturation_events_total") - \
        before.value("stockroom_fastcgi_saturation_events_total")
    assert accepted >= threads + EXTRA, f"accepted {accepted} of {threads + EXTRA} connections"
    assert saturations >= 1, f"no saturation event with {threads + EXTRA} connections on {threads} threads"
    assert after.value("stockroom_fastcgi_listen_queue_max") >= EXTRA // 2, after.family("stockroom_fastcgi_listen_queue_max")
    assert after.value("stockroom_fastcgi_listen_queue_limit") >= threads
    observe(f"pool metrics: {threads + EXTRA} silent connections on {threads} threads: +{accepted:.0f} accepted, "
            f"+{saturations:.0f} saturation, longest queue seen {after.value('stockroom_fastcgi_listen_queue_max'):.0f}")


def test_a_burst_shows_busy_threads_new_connections_and_slow_requests(url):
    indexes = responder_indexes()
    settings = ResponderSettings()
    try:
        settings.set({"STOCKROOM_SLOW_REQUEST_MS": "1"})
        logs = {i: stack_dir() / f"fcgi-{i}.log" for i in indexes}
        offsets = {i: log_size(path) for i, path in logs.items()}
        before = {i: scrape(responder_target(i)) for i in indexes}

        busy_seen = {i: 0.0 for i in indexes}
        scrapes = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal scrapes
            while not done.is_set():
                for i in indexes:
                    busy_seen[i] = max(busy_seen[i], scrape(responder_target(i)).value("stockroom_fastcgi_busy_threads"))
                    scrapes += 1

        barrier = threading.Barrier(BURST)

        def register(_: int) -> str:
            client = Api(url)
            try:
                barrier.wait(timeout=30)
                r = client.post("/api/v1/auth/register", json={"username": unique_name("slow"), "password": PASSWORD},
                                timeout=30)
                assert r.status_code == 201, r.text
                return r.headers["X-Request-Id"]
            finally:
                client.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(max_workers=BURST) as pool:
                ids = list(pool.map(register, range(BURST)))
        finally:
            done.set()
            watcher.join(timeout=30)
        after = {i: scrape(responder_target(i)) for i in indexes}

        # The scrape itself keeps one thread busy: more than that is the burst.
        assert max(busy_seen.values()) > 1, f"busy threads seen during the burst: {busy_seen}"
        accepted = sum(after[i].value("stockroom_fastcgi_accepted_connections_total")
                       - before[i].value("stockroom_fastcgi_accepted_connections_total") for i in indexes)
        own = scrapes + 2 * len(indexes)  # every scrape is a connection of its own
        assert accepted - own >= BURST // 4, f"{accepted} connections accepted, {own} of them scrapes"
        slow = sum(after[i].total("stockroom_http_slow_requests_total") - before[i].total("stockroom_http_slow_requests_total")
                   for i in indexes)
        assert slow >= BURST, f"{slow} slow requests counted for {BURST} registrations over 1 ms"

        text = "".join(read_log_from(path, offsets[i]) for i, path in logs.items())
        warnings = [line for line in text.splitlines() if "slow request" in line and ROUTE in line]
        logged = {request_id for request_id in ids if any(request_id in line for line in warnings)}
        assert logged == set(ids), f"{len(set(ids) - logged)} of {BURST} slow registrations not logged; e.g. {warnings[:2]}"
        line = next(line for line in warnings if ids[0] in line)
        assert "level=notice" in line or "<5>" in line, f"a slow request is logged at notice level: {line}"
        for part in ("POST", "201", "duration"):
            assert part in line, f"{part!r} missing from the slow request line: {line}"
        observe(f"pool metrics under a burst of {BURST} registrations: busy threads up to {busy_seen}, "
                f"{accepted - own:.0f} new upstream connections, {slow:.0f} slow requests logged, e.g. {line.strip()[:300]}")
    finally:
        settings.restore()
