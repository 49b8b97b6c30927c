"""Contract: Health."""

import time

from stockroom_kit.client import assert_status


def test_health_is_healthy(api):
    r = api.get("/health")
    assert assert_status(r, 200) == {"status": "healthy", "database": "up"}


def test_health_live_is_alive(api):
    r = api.get("/health/live")
    assert assert_status(r, 200) == {"status": "alive"}


def test_health_is_fast_and_repeatable(api):
    started = time.monotonic()
    for _ in range(20):
        assert assert_status(api.get("/health"), 200) == {"status": "healthy", "database": "up"}
        assert assert_status(api.get("/health/live"), 200) == {"status": "alive"}
    assert time.monotonic() - started < 10


def test_health_ignores_query_string(api):
    r = api.get("/health", params={"x": "1"})
    assert assert_status(r, 200) == {"status": "healthy", "database": "up"}
