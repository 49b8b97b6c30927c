"""Cluster fault 4: a killed node restarted under order load rejoins by IST, and the clients see no
5xx during the rejoin.

Node 1 (the writer) is killed; once writes run on node 2 and more have piled up, `cluster.sh start 1`
(`mariadbd --wsrep-recover` first, then a start at the recovered position) brings it back: it must
catch up by IST (an incremental transfer from a donor's gcache, "IST received" in its error log),
not by a full SST. Requests started from the restart on, through its Synced state and 5 s beyond
(when the responders may move back to node 1, the first in their list), all get normal answers;
the kill itself may cost 503s for requests started within 10 s of it, as in case 1.
"""

import time

from stockroom_kit.cluster import cluster, cluster_ok, node_log, node_status, state_transfer
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

KILL_WINDOW_SECONDS = 10


def test_rejoin_by_ist(customer_tokens, make_products, case_report):
    initial = new_load_products(make_products)
    baseline = max_order_id()
    workers = WorkerLogs()
    load = start_load(customer_tokens, initial)
    phases = Phases(load)
    phases.mark("before the kill", load.t0)
    started = None
    behind = ""
    try:
        time.sleep(2)
        t_issue = phases.mark(f"node 1 killed (the {KILL_WINDOW_SECONDS} s window)")
        cluster_ok("kill", "1")
        t_kill = time.monotonic()
        wait_first_write_after(load, t_kill, KILL_WINDOW_SECONDS + 5)
        time.sleep(max(0.0, t_kill + KILL_WINDOW_SECONDS - time.monotonic()))
        phases.mark("node 1 down, writes on the others")
        time.sleep(3)
        log_offset = log_size(node_log(1))
        behind = node_status(2).get("wsrep_last_committed", "?")
        t_start = phases.mark("node 1 rejoining (cluster.sh start 1)")
        started = cluster("start", "1", timeout=150)
        t_synced = phases.mark("node 1 Synced")
        time.sleep(5)
        phases.mark("after the rejoin")
    finally:
        hung = load.stop()

    phases.report(case_report)
    case_report.add("not normal, whole case", fault_answers(load) or "none")
    assert not hung, f"load threads still waiting after every timeout: {hung}"
    assert started is not None and started.returncode == 0, f"cluster.sh start 1 failed:\n{started and started.stderr[-3000:]}"
    rejoin_log = read_log_from(node_log(1), log_offset)
    transfer = state_transfer(rejoin_log)
    case_report.add("node 1 rejoin", f"by {transfer}, Synced {t_synced - t_start:.2f} s after `cluster.sh start 1` "
                                     f"(the cluster was at seqno {behind} when it started)")

    check = Checks(case_report)
    with check("rejoined by IST"):
        ist_lines = [line for line in rejoin_log.splitlines() if "IST" in line][:4]
        case_report.add("node 1 log", " | ".join(line.strip()[-160:] for line in ist_lines) or "no IST line")
        assert transfer == "IST", f"node 1 rejoined by {transfer}, not IST; its log since the start:\n{rejoin_log[-3000:]}"
    with check("no 5xx during the rejoin"):
        rejoin = load.select(started=(t_start, float("inf")))
        bad = {k: v for k, v in load.counts(rejoin).items() if k.split()[1][0] in "5n"}
        assert not bad, f"answers during the rejoin: {bad}"
    with check("answers"):
        assert_window(load, t_issue, t_kill + KILL_WINDOW_SECONDS, *DATABASE_TROUBLE)
    with check("books"):
        report_books(case_report, load, verify_cluster_books(load, initial, baseline, workers), 503)
    check.done()
