"""Fault 5: database connections dropped by the server between requests.

The load is paused (no request in flight), then:
- KILL CONNECTION for every connection of the application user (information_schema.processlist,
  user 'stockroom': every responder thread's, the worker's), and the load resumes;
- SET GLOBAL wait_timeout = 2, the connections killed again so that the responders reconnect
  under it, a short burst, a pause of 3 s (the server closes every idle connection), wait_timeout
  restored, and the load resumes.
Each time, the requests that follow succeed (a responder replaces a dead connection before it
starts a transaction, and retries a read once): 200/201 (or 409 sold out), no 503, no 5xx.
"""

import time

from stockroom_kit.chaos import LOAD_STOCKS, NORMAL, OrderLoad, assert_answers, verify_books
from stockroom_kit.stack import db_root, max_order_id, stockroom_connections


def kill_all_stockroom_connections() -> set[int]:
    ids = {cid for cid, _cmd, _t in stockroom_connections()}
    for cid in sorted(ids):
        # A connection may have gone away by itself in between: 1094 "Unknown thread id".
        proc = db_root(f"KILL CONNECTION {cid}", check=False)
        assert proc.returncode == 0 or "1094" in proc.stderr or "Unknown thread" in proc.stderr, proc.stderr
    return ids


def test_connections_dropped_between_requests(admin_api, customer_tokens, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    baseline = max_order_id()
    original_wait_timeout = int(db_root("SELECT @@GLOBAL.wait_timeout").stdout.strip())

    load = OrderLoad(customer_tokens, list(initial)).start()
    try:
        time.sleep(3)
        # --- KILL CONNECTION
        quiet = load.pause()
        killed = kill_all_stockroom_connections()
        assert killed, "no connection of user stockroom to kill"
        # (the worker, which polls every 0.2 s, may already have a new one)
        left = killed & {cid for cid, _cmd, _t in stockroom_connections()}
        t_resume_1 = time.monotonic()
        load.resume()
        time.sleep(3)

        # --- wait_timeout
        load.pause()
        try:
            db_root("SET GLOBAL wait_timeout = 2")
            killed_2 = kill_all_stockroom_connections()
            load.resume()
            time.sleep(2)  # threads reconnect, their new sessions get wait_timeout = 2
            load.pause()
            before_idle = len(stockroom_connections())
            time.sleep(3.5)
            after_idle = len(stockroom_connections())
        finally:
            db_root(f"SET GLOBAL wait_timeout = {original_wait_timeout}")
        t_resume_2 = time.monotonic()
        load.resume()
        time.sleep(3)
    finally:
        hung = load.stop()

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers", load.counts())
    assert not left, f"stockroom connections survived KILL CONNECTION: {left}"
    case_report.add("KILL CONNECTION", f"{len(killed)} connections killed with the load paused (quiet after {quiet:.2f} s)")
    assert after_idle < before_idle, (
        f"wait_timeout = 2 closed no idle connection ({before_idle} before the 3.5 s pause, {after_idle} after)"
    )
    case_report.add("wait_timeout", f"{len(killed_2)} killed again, reconnected under wait_timeout = 2: "
                                    f"{before_idle} connections before 3.5 s idle, {after_idle} after "
                                    f"(restored to {original_wait_timeout})")

    # Everything succeeds, including the first request on every dead connection.
    assert_answers(load, NORMAL)
    after_1 = load.select(started=(t_resume_1, t_resume_1 + 3))
    after_2 = load.select(started=(t_resume_2, float("inf")))
    assert after_1 and after_2
    case_report.add("after the kill", load.counts(after_1))
    case_report.add("after wait_timeout", load.counts(after_2))
    case_report.add("latency", f"max {load.max_latency():.3f} s")

    books = verify_books(admin_api, initial, load, baseline)
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
