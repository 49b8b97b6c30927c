"""Issue 2 "Done when": with MariaDB gone, /health is 503 and endpoints answer 503 in the error
shape (never a hang, never HTML); they recover by themselves when it returns.

Named to run last: it kills the stack's MariaDB, then brings it back with `$STOCKROOM_STACK up`.
"""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.client import PASSWORD, Api, assert_error, assert_status, describe, unique_name
from stockroom_kit.stack import pid_alive, read_pid, run_stack, stack_dir


def _responder_pids(d):
    return {p.name: read_pid(p) for p in sorted(d.glob("fcgi-*.pid"))}


def _wait(predicate, seconds, interval=0.2):
    """Call predicate until it returns something other than None/False (a Response is falsy when 4xx/5xx)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    return None


def test_database_down_and_back(url):
    d = stack_dir()
    api = Api(url)
    # warm: the pool has connections, an account exists
    username = unique_name("dbdown")
    assert_status(api.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD}), 201)
    assert_status(api.get("/health"), 200)
    responders_before = _responder_pids(d)
    assert responders_before, f"no fcgi-*.pid in {d}"

    mariadb = read_pid(d / "mariadb.pid")
    assert mariadb is not None and pid_alive(mariadb), f"no live MariaDB pid in {d / 'mariadb.pid'}"

    os.kill(mariadb, signal.SIGKILL)
    try:
        assert _wait(lambda: not pid_alive(mariadb), 5), "MariaDB survived SIGKILL"

        # /health says unhealthy within a few seconds, each answer in under 5 s
        def unhealthy():
            t = time.monotonic()
            r = api.get("/health", timeout=10)
            took = time.monotonic() - t
            assert took < 5, f"/health took {took:.1f} s with the database down"
            return r if r.status_code == 503 else None

        r = _wait(unhealthy, 5)
        assert r is not None, "/health did not turn 503 within 5 s of killing MariaDB"
        assert_status(r, 503)
        assert r.json() == {"status": "unhealthy", "database": "down"}, describe(r)

        t = time.monotonic()
        r = api.get("/api/v1/products", timeout=10)
        assert time.monotonic() - t < 5
        assert_error(r, 503, "database_unavailable")

        assert_error(api.get("/api/v1/products/1", timeout=10), 503, "database_unavailable")

        # a login is not "invalid credentials" when the database is unreachable
        r = api.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
        assert_error(r, 503, "database_unavailable")

        # several connections (so several responder threads) all answer 503 quickly
        def probe(_):
            client = Api(url)
            try:
                t = time.monotonic()
                r = client.get("/api/v1/products", timeout=10)
                return r, time.monotonic() - t
            finally:
                client.close()

        with ThreadPoolExecutor(max_workers=10) as pool:
            for r, took in pool.map(probe, range(20)):
                assert_error(r, 503, "database_unavailable")
                assert took < 5, f"took {took:.1f} s"

        assert assert_status(api.get("/health/live"), 200) == {"status": "alive"}
    finally:
        proc = run_stack("up")
    assert proc.returncode == 0, f"stack up failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"

    new_mariadb = read_pid(d / "mariadb.pid")
    assert new_mariadb is not None and new_mariadb != mariadb and pid_alive(new_mariadb)

    def healthy():
        try:
            r = api.get("/health", timeout=5)
        except Exception:
            return None
        return r if r.status_code == 200 else None

    r = _wait(healthy, 20)
    assert r is not None, "/health not 200 within 20 s of MariaDB's return"
    assert r.json() == {"status": "healthy", "database": "up"}

    # the responders reconnected by themselves: same processes, every thread answers
    assert _responder_pids(d) == responders_before, "responders were restarted instead of reconnecting"

    def products(_):
        client = Api(url)
        try:
            return [client.get("/api/v1/products", timeout=10) for _ in range(5)]
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        for batch in pool.map(products, range(32)):
            for r in batch:
                assert r.status_code == 200, describe(r)

    body = assert_status(api.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}), 200)
    assert body["token_type"] == "Bearer"
    api.close()
