"""Cluster fault 1: SIGKILL of the writer node (node 1) under order load.

Writes resume on the next node (node 2) within 10 s of the kill: the first order or checkout sent
after node 1 is gone is acknowledged within 10 s. Requests in flight at the kill or started within
those 10 s may answer 503 `database_unavailable` or `busy`; every other request gets a normal
answer, and none a 500. Node 1
is then started again (`cluster.sh start 1`) under load and rejoins; every order acknowledged with
201 is then on all three nodes, and the books add up on each.
"""

import time

from stockroom_kit.cluster import app_connections, cluster, cluster_ok, node_log, node_status, state_transfer
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
from stockroom_kit.stack import log_size, read_log_from

WRITES_RESUME_SECONDS = 10


def test_kill_writer_node(customer_tokens, make_products, case_report):
    initial = new_load_products(make_products)
    baseline = max_order_id()
    workers = WorkerLogs()
    log_offset = log_size(node_log(1))
    load = start_load(customer_tokens, initial)
    phases = Phases(load)
    phases.mark("before the kill", load.t0)
    resumed = started = None
    connections = {}
    try:
        time.sleep(3)
        t_issue = phases.mark(f"node 1 killed (the {WRITES_RESUME_SECONDS} s window)")
        cluster_ok("kill", "1")
        t_kill = time.monotonic()  # gone: its connections are reset
        resumed = wait_first_write_after(load, t_kill, WRITES_RESUME_SECONDS + 5)
        time.sleep(max(0.0, t_kill + WRITES_RESUME_SECONDS - time.monotonic()))
        phases.mark("node 1 down, after the window")
        time.sleep(3)
        connections = app_connections()
        phases.mark("node 1 rejoining (cluster.sh start 1)")
        started = cluster("start", "1", timeout=150)
        phases.mark("node 1 Synced")
        time.sleep(3)
    finally:
        hung = load.stop()

    phases.report(case_report)
    case_report.add("not normal, whole case", fault_answers(load) or "none")
    case_report.add("application connections per node while node 1 was down", connections)
    assert not hung, f"load threads still waiting after every timeout: {hung}"
    assert started is not None and started.returncode == 0, f"cluster.sh start 1 failed:\n{started and started.stderr[-3000:]}"
    case_report.add("node 1 rejoined by", state_transfer(read_log_from(node_log(1), log_offset)))
    case_report.add("node 1 after the rejoin", node_status(1).get("wsrep_local_state_comment"))

    check = Checks(case_report)
    with check("writes resume within 10 s"):
        assert resumed is not None, f"no order or checkout acknowledged within {WRITES_RESUME_SECONDS + 5} s of the kill"
        case_report.add("writes resumed", f"{resumed - t_kill:.2f} s after the kill")
        assert resumed - t_kill <= WRITES_RESUME_SECONDS, f"writes resumed only {resumed - t_kill:.2f} s after the kill"
    with check("answers"):
        assert_window(load, t_issue, t_kill + WRITES_RESUME_SECONDS, *DATABASE_TROUBLE)
    with check("books"):
        report_books(case_report, load, verify_cluster_books(load, initial, baseline, workers), 503)
    check.done()
