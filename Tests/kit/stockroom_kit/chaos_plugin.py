"""The fault suite's pytest plugin (`-p stockroom_kit.chaos_plugin`, next to stockroom_kit.plugin,
whose admin fixtures it uses): its fixtures, and the guards around every case. Every case starts
from a healthy stack with both responders answering on their own sockets and nginx's workers fresh
(every upstream in rotation); no process is left stopped (SIGSTOP) after a case; `case_report`
writes what the case observed to $STACK_DIR/chaos-summary.txt and to the test output."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Callable

import pytest

from .chaos import LOAD_THREADS, CaseReport, fcgi_health
from .client import Api, assert_product, assert_status, new_customer, unique_name
from .stack import continue_all_stopped, reload_nginx, stack_dir, wait_for


@pytest.fixture(autouse=True)
def _never_leave_a_process_stopped():
    yield
    continue_all_stopped()


@pytest.fixture(scope="session", autouse=True)
def _stack_is_healthy():
    """Every case starts from a healthy stack with both responders answering."""
    client = Api()
    try:
        assert wait_for(lambda: client.get("/health", timeout=5).status_code == 200, 30, 0.2), "the stack is not healthy"
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _responders_up():
    """Before each case: both responders answer /health on their own sockets (a restart in the
    previous case is complete), and nginx has both in rotation again."""
    for index in (1, 2):
        assert wait_for(lambda: fcgi_health(index) == 200, 20, 0.1), f"fcgi-{index} does not answer /health"
    reload_nginx()
    yield


# ---------------------------------------------------------------------------- report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def case_report(request):
    report = CaseReport(request.node.name)
    yield report
    rep = getattr(request.node, "rep_call", None)
    if rep is None:
        outcome = "ERROR (setup)"
    elif rep.passed:
        outcome = "PASSED"
    else:
        msg = str(rep.longrepr.reprcrash.message) if hasattr(rep.longrepr, "reprcrash") and rep.longrepr.reprcrash else "failed"
        outcome = "FAILED: " + msg.splitlines()[0][:300] if msg else "FAILED"
    text = report.text(outcome)
    with open(stack_dir() / "chaos-summary.txt", "a") as f:
        f.write(text)
    print("\n" + text, flush=True)


# ---------------------------------------------------------------------------- users, products


def _customer_token(prefix: str) -> str:
    client = Api()
    try:
        return new_customer(client, prefix)["token"]
    finally:
        client.close()


@pytest.fixture(scope="session")
def customer_tokens() -> list[str]:
    """16 customers, one per load thread (Idempotency-Keys are per user)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: _customer_token("chaos"), range(LOAD_THREADS)))


@pytest.fixture
def new_customer_token() -> Callable[[], str]:
    return lambda: _customer_token("hold")


@pytest.fixture
def make_products(admin_api: Api) -> Callable[..., dict[int, int]]:
    """Factory: products with the given stocks; returns product id -> initial stock."""

    def factory(*stocks: int) -> dict[int, int]:
        out = {}
        for stock in stocks:
            r = admin_api.post("/api/v1/products", json={"name": unique_name("chaosprod"), "price": Decimal("2.50"), "stock": stock})
            p = assert_product(assert_status(r, 201))
            out[p["id"]] = stock
        return out

    return factory
