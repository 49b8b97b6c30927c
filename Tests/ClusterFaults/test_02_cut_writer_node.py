"""Cluster fault 2: the writer node (node 1) cut off from every other host under order load
(`Topology.cut`: its bridge port down; mariadbd keeps running).

Node 1, alone, leaves the primary component and refuses every statement (error 1047, checked on its
unix socket, which the cut does not touch); nodes 2 and 3 carry on as a primary component of 2. The
responders move to node 2: writes resume within the window, which allows for a statement already
sent to node 1 waiting out STOCKROOM_DB_TIMEOUT (10 s; a cut peer never answers, unlike a dead one)
plus Galera's ~5 s to declare node 1 gone. Requests started in the window may answer 503
`database_unavailable` or `busy`; every other request a normal answer; never a 500. Then node 1 is
reconnected and rejoins by itself. Nothing acknowledged is lost, nothing is run twice (one order per
key, on all three nodes), and no order is processed twice.
"""

import time

from stockroom_kit.cluster import app_connections, node_sql, node_status, node_summary, topology, wait_cluster_synced
from stockroom_kit.cluster_books import WorkerLogs, verify_cluster_books
from stockroom_kit.cluster_faults import (
    DATABASE_TROUBLE,
    Checks,
    Phases,
    assert_window,
    fault_answers,
    max_order_id,
    new_load_products,
    report_books,
    start_load,
    wait_first_write_after,
)
from stockroom_kit.stack import wait_for

CUT_WINDOW_SECONDS = 20


def minority_refuses(product_id: int) -> str | None:
    """Node 1 refuses a write with 1047 (not in the primary component): the client's error line."""
    proc = node_sql(1, f"UPDATE stockroom.products SET stock = stock WHERE id = {int(product_id)}", timeout=10, check=False)
    return proc.stderr.strip() if proc.returncode != 0 and "1047" in proc.stderr else None


def test_cut_writer_node(customer_tokens, make_products, case_report):
    topo = topology()
    initial = new_load_products(make_products)
    baseline = max_order_id()
    workers = WorkerLogs()
    load = start_load(customer_tokens, initial)
    phases = Phases(load)
    phases.mark("before the cut", load.t0)
    resumed = refused = None
    majority = minority = ""
    connections = {}
    synced = False
    try:
        time.sleep(3)
        t_cut = phases.mark(f"node 1 cut off (the {CUT_WINDOW_SECONDS} s window)")
        topo.cut(topo.db(1))
        refused = wait_for(lambda: minority_refuses(next(iter(initial))), 20, 0.5)
        minority = node_summary(1)
        majority = node_summary(2)
        resumed = wait_first_write_after(load, t_cut, CUT_WINDOW_SECONDS + 5)
        time.sleep(max(0.0, t_cut + CUT_WINDOW_SECONDS - time.monotonic()))
        phases.mark("node 1 cut, after the window")
        time.sleep(3)
        connections = app_connections()
        phases.mark("node 1 reconnected")
        topo.restore(topo.db(1))
        synced = wait_cluster_synced(90)
        phases.mark("3 nodes Synced")
        time.sleep(3)
    finally:
        if topo.is_cut(topo.db(1)):
            topo.restore(topo.db(1))
        hung = load.stop()

    phases.report(case_report)
    case_report.add("not normal, whole case", fault_answers(load) or "none")
    case_report.add("node 1 while cut", f"{minority}; a write on it: {refused or 'not refused with 1047'}")
    case_report.add("node 2 while node 1 was cut", majority)
    case_report.add("application connections per node while node 1 was cut", connections)
    assert not hung, f"load threads still waiting after every timeout: {hung}"
    assert synced, "the cluster did not come back to 3 Synced nodes after the cut: " + \
        "; ".join(f"node {n}: {node_summary(n)}" for n in (1, 2, 3))
    case_report.add("node 1 after reconnecting", node_status(1).get("wsrep_local_state_comment"))

    check = Checks(case_report)
    with check("the minority refuses writes, the majority stays primary"):
        assert refused, f"node 1 (alone) did not refuse a write with 1047 within 20 s: {minority}"
        assert "Primary" in majority and "size 2" in majority, f"nodes 2 and 3 were not a primary component of 2: {majority}"
    with check(f"writes resume within {CUT_WINDOW_SECONDS} s"):
        assert resumed is not None, f"no order or checkout acknowledged within {CUT_WINDOW_SECONDS + 5} s of the cut"
        case_report.add("writes resumed", f"{resumed - t_cut:.2f} s after the cut")
        assert resumed - t_cut <= CUT_WINDOW_SECONDS, f"writes resumed only {resumed - t_cut:.2f} s after the cut"
    with check("answers"):
        assert_window(load, t_cut, t_cut + CUT_WINDOW_SECONDS, *DATABASE_TROUBLE)
    with check("books"):
        report_books(case_report, load, verify_cluster_books(load, initial, baseline, workers), 503)
    check.done()
