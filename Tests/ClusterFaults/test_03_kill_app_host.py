"""Cluster fault 3: a whole app host killed under order load (SIGKILL of its nginx master and
workers, responders, their supervisors and its worker: everything in its namespace).

The front nginx routes around it: only requests in flight on it when it died may fail (the front's
JSON 502: a POST already written to it is never re-sent to the other host), for requests in flight
at the kill or started up to 3 s after it; then every request is answered by app host 1, normally. The other host's
worker processes the orders. Then the host is brought back (`devstack.sh up` in its namespace) and
the front sends it requests again within its fail_timeout (5 s). The books add up on every node.
"""

import time

from stockroom_kit.cluster import AppHost, front_lines, front_log_size, served_by
from stockroom_kit.cluster_books import WorkerLogs, verify_cluster_books
from stockroom_kit.cluster_faults import (
    Checks,
    Phases,
    assert_window,
    fault_answers,
    max_order_id,
    new_load_products,
    report_books,
    start_load,
)
from stockroom_kit.stack import wait_for

FRONT_WINDOW_SECONDS = 3
FAIL_TIMEOUT_SECONDS = 5
FRONT_FAILURE = tuple((kind, 502, "bad_gateway") for kind in ("order", "checkout", "cart", "cancel", "read"))


def test_kill_app_host(customer_tokens, make_products, case_report):
    host = AppHost(2)
    initial = new_load_products(make_products)
    baseline = max_order_id()
    workers = WorkerLogs()
    offsets = {"start": front_log_size()}
    load = start_load(customer_tokens, initial)
    phases = Phases(load)
    phases.mark("both app hosts", load.t0)
    killed: list[int] = []
    back = None
    try:
        time.sleep(3)
        offsets["kill"] = front_log_size()
        t_kill = phases.mark(f"app host 2 killed (the {FRONT_WINDOW_SECONDS} s window)")
        killed = host.kill()
        time.sleep(FRONT_WINDOW_SECONDS)
        offsets["after window"] = front_log_size()
        phases.mark("app host 2 down, after the window")
        time.sleep(5)
        offsets["up"] = front_log_size()
        phases.mark("app host 2 starting (devstack.sh up)")
        host.up()
        t_back = phases.mark("app host 2 up")
        offsets["back"] = front_log_size()
        address = f"{host.address}:8080"
        back = wait_for(lambda: served_by(front_lines(offsets["back"])).get(address) and time.monotonic(),
                        FAIL_TIMEOUT_SECONDS + 5, 0.2)
        time.sleep(3)
    finally:
        hung = load.stop()
    offsets["end"] = front_log_size()

    phases.report(case_report)
    case_report.add("not normal, whole case", fault_answers(load) or "none")
    case_report.add("killed", f"{len(killed)} processes of app host 2: {killed}")
    failed = [a for a in load.select() if a.status is None or a.status >= 500]
    if failed:
        case_report.add("5xx or no answer", f"{len(failed)}, for requests sent {min(a.start for a in failed) - t_kill:+.2f} s "
                                            f"to {max(a.start for a in failed) - t_kill:+.2f} s from the kill")
    names = list(offsets)
    for a, b in zip(names, names[1:]):
        case_report.add(f"front: served by ({a} .. {b})", served_by(front_lines(offsets[a], offsets[b])) or "none")
    assert not hung, f"load threads still waiting after every timeout: {hung}"

    check = Checks(case_report)
    with check("the front routes around the dead host"):
        during = front_lines(offsets["after window"], offsets["up"])
        assert during, "no request reached the front while app host 2 was down"
        assert set(served_by(during)) == {f"{AppHost(1).address}:8080"}, f"while app host 2 was down: {served_by(during)}"
    with check("answers"):
        assert_window(load, t_kill, t_kill + FRONT_WINDOW_SECONDS, *FRONT_FAILURE)
    with check("the front uses the host again"):
        assert back, f"the front sent app host 2 no request within {FAIL_TIMEOUT_SECONDS + 5} s of its return"
        case_report.add("app host 2 served again", f"{back - t_back:.2f} s after `devstack.sh up` returned")
    with check("books"):
        report_books(case_report, load, verify_cluster_books(load, initial, baseline, workers), 502)
    check.done()
