"""The pytest plugin of the suites (`-p stockroom_kit.plugin`): the fixtures both use (clients,
users, admins, products) and the "observations" section of the terminal summary."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Callable

import pytest

from .client import (
    PASSWORD,
    Api,
    StorePricing,
    assert_product,
    assert_status,
    create_admin,
    create_promo_code,
    login_token,
    new_customer,
    unique_name,
)
from .metrics import stack_gaps
from .stack import base_url, continue_all_stopped

# --------------------------------------------------------------------------
# Observations (issue 4): measured figures printed at the end of the run, even with -q


_OBSERVATIONS: list[str] = []


def observe(line: str) -> None:
    """Record a measured figure or an observed behaviour; printed in the terminal summary."""
    _OBSERVATIONS.append(line)


def pytest_terminal_summary(terminalreporter) -> None:
    if _OBSERVATIONS:
        terminalreporter.section("observations")
        for line in _OBSERVATIONS:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------
# Fixtures

# How long a module's restarts may take to settle (supervisord's backoff, a worker's reconnect).
STACK_SETTLE_SECONDS = 30


@pytest.fixture(scope="module", autouse=True)
def _module_leaves_the_stack_whole():
    """After each module: every program runs and every target answers again, or the module errs.
    A test that restarts or stops a program must wait for it to come back; otherwise the next
    module fails on its leftovers (CI of 11acf70: a worker restarted by test_worker was not yet
    serving its metrics when test_worker_metrics scraped it)."""
    yield
    continue_all_stopped()
    deadline = time.monotonic() + STACK_SETTLE_SECONDS
    while (gaps := stack_gaps()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if gaps:
        pytest.fail(f"the module left the stack broken for {STACK_SETTLE_SECONDS} s:\n" + "\n".join(gaps), pytrace=False)


@pytest.fixture(scope="session")
def url() -> str:
    return base_url()


@pytest.fixture
def api(url: str):
    client = Api(url)
    yield client
    client.close()


@pytest.fixture
def make_api(url: str):
    """Factory for independent clients (one per thread in the concurrency tests)."""
    clients: list[Api] = []

    def factory(token: str | None = None) -> Api:
        client = Api(url, token)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def unique() -> Callable[..., str]:
    return unique_name


@pytest.fixture
def new_user(url: str):
    """Factory: register a fresh customer, log in; returns dict(username, password, user, token)."""
    client = Api(url)

    def factory(prefix: str = "u", password: str = PASSWORD, with_token: bool = True) -> dict[str, Any]:
        return new_customer(client, prefix, password, with_token)

    yield factory
    client.close()


@pytest.fixture(scope="session")
def customer(url: str) -> dict[str, Any]:
    client = Api(url)
    try:
        return new_customer(client, "cust")
    finally:
        client.close()


@pytest.fixture(scope="session")
def customer_token(customer: dict[str, Any]) -> str:
    return customer["token"]


@pytest.fixture(scope="session")
def admin(url: str) -> dict[str, Any]:
    username = unique_name("adm")
    create_admin(username)
    client = Api(url)
    token = login_token(client, username)
    me = assert_status(client.get("/api/v1/users/me", token=token), 200)
    client.close()
    assert me["role"] == "admin", me
    return {"username": username, "password": PASSWORD, "user": me, "token": token}


@pytest.fixture(scope="session")
def admin_token(admin: dict[str, Any]) -> str:
    return admin["token"]


@pytest.fixture
def admin_api(url: str, admin_token: str):
    client = Api(url, admin_token)
    yield client
    client.close()


@pytest.fixture
def make_product(admin_api: Api):
    """Factory: create a product as admin; returns the parsed product."""

    def factory(name: str | None = None, price: Any = Decimal("9.99"), stock: int = 10) -> dict[str, Any]:
        body = {"name": name or unique_name("prod"), "price": price, "stock": stock}
        r = admin_api.post("/api/v1/products", json=body)
        return assert_product(assert_status(r, 201))

    return factory


@pytest.fixture
def make_promo_code(admin_api: Api):
    """Factory (issue 10): create a promo code as admin from promo_body(**fields); returns the parsed code."""

    def factory(**fields: Any) -> dict[str, Any]:
        return create_promo_code(admin_api, **fields)

    return factory


@pytest.fixture
def store_pricing(url: str):
    """Factory (issue 10): store_pricing(tax_rate=, delivery_fee=, free_delivery_from=) switches the
    responders' pricing settings (responder.env + SIGHUP) and waits until GET /api/v1/store/pricing
    reports them; the stack's settings are restored (and confirmed) after the test, pass or fail."""
    client = Api(url)
    holder: list[StorePricing] = []

    def factory(**settings: Any) -> dict[str, Any]:
        if not holder:
            holder.append(StorePricing(client))
        return holder[0].set(**settings)

    try:
        yield factory
    finally:
        try:
            if holder:
                holder[0].restore()
        finally:
            client.close()
