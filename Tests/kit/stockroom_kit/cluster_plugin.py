"""The cluster fault suite's pytest plugin (`-p stockroom_kit.cluster_plugin`, alone: it takes the
fixtures it needs from stockroom_kit.plugin and stockroom_kit.chaos_plugin, whose guards around every
case are about the single-host stack). Every case starts from a healthy topology: no namespace cut,
the 3 Galera nodes Synced in one cluster, both app hosts answering /health on their own address,
and the front nginx's workers fresh (both app hosts in rotation); `case_report` writes what the case
observed to $STACK_DIR/chaos-summary.txt and to the test output."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .chaos_plugin import case_report, customer_tokens, make_products, pytest_runtest_makereport  # noqa: F401
from .client import Api, assert_status, login_token
from .cluster import NODES, app_hosts, cluster_ok, node_pid, node_summary, reload_front, topology, wait_cluster_synced
from .plugin import admin_api, admin_token, pytest_terminal_summary, url  # noqa: F401
from .stack import wait_for


@pytest.fixture(scope="session")
def admin(url: str) -> dict[str, Any]:  # noqa: F811 - the admin the script created with `devstack.sh admin`
    username = os.environ["STOCKROOM_ADMIN_USERNAME"]
    password = os.environ["STOCKROOM_ADMIN_PASSWORD"]
    client = Api(url)
    try:
        token = login_token(client, username, password)
        me = assert_status(client.get("/api/v1/users/me", token=token), 200)
    finally:
        client.close()
    assert me["role"] == "admin", me
    return {"username": username, "password": password, "user": me, "token": token}


@pytest.fixture(autouse=True)
def _topology_healthy():
    """Before each case: every namespace connected, every node running and Synced (a node a failed
    case left down is started again), both app hosts up, the front's workers fresh."""
    topo = topology()
    for name in topo.hosts:
        if topo.is_cut(name):
            topo.restore(name)
    for n in NODES:
        if node_pid(n) is None:
            cluster_ok("start", str(n))
    assert wait_cluster_synced(90), "the cluster is not 3 Synced nodes: " + "; ".join(
        f"node {n}: {node_summary(n)}" for n in NODES)
    for host in app_hosts():
        if not host.healthy():
            host.up()
        assert wait_for(host.healthy, 30, 0.2), f"app host {host.n} does not answer /health on {host.url}"
    reload_front()
    client = Api()
    try:
        assert wait_for(lambda: client.get("/health", timeout=5).status_code == 200, 30, 0.2), \
            "the front nginx does not answer /health 200"
    finally:
        client.close()
    yield
