"""Fault 1: SIGKILL one stockroom-fcgi process mid-load.

Only the requests in flight on it fail, with nginx's JSON 502 at most (an order is never sent to a
second responder once one has received it); nobody sees a 500; supervisord restarts it (a new pid
in fcgi-1.pid) and /health is 200 again within 10 s, on nginx and on the restarted process's own
socket. Then the checks that follow every case.
"""

import os
import signal
import time

from stockroom_kit.chaos import (
    LOAD_STOCKS,
    OrderLoad,
    allow,
    assert_answers,
    executed_despite,
    fcgi_health,
    verify_books,
)
from stockroom_kit.stack import max_order_id, pid_alive, responder_pid, wait_for, wait_new_responder


def test_sigkill_responder_mid_load(admin_api, customer_tokens, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    baseline = max_order_id()
    old = responder_pid(1)

    load = OrderLoad(customer_tokens, list(initial)).start()
    try:
        time.sleep(3)
        t_kill = time.monotonic()
        os.kill(old, signal.SIGKILL)
        new = wait_new_responder(1, old, 10)
        t_new = time.monotonic()
        healthy = wait_for(lambda: fcgi_health(1, timeout=2) == 200 and time.monotonic(), 10 - (t_new - t_kill), 0.05)
        nginx_health = wait_for(lambda: (admin_api.get("/health", timeout=5).status_code == 200) and time.monotonic(), 10, 0.05)
        time.sleep(4)
    finally:
        hung = load.stop()

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers", load.counts())
    assert new is not None, f"fcgi-1.pid did not name a new stockroom-fcgi within 10 s of SIGKILL of {old}"
    assert not pid_alive(old)
    case_report.add("restart", f"pid {old} -> {new} after {t_new - t_kill:.2f} s")
    assert healthy, "the restarted responder did not answer /health 200 on its socket within 10 s of the kill"
    case_report.add("recovery", f"fcgi-1 /health 200 {healthy - t_kill:.2f} s after the kill; "
                                f"nginx /health 200 {nginx_health - t_kill:.2f} s after the kill")

    # Only the requests in flight on the killed process may fail, and only with nginx's 502
    # (bad_gateway, JSON). No 500, no 503/504, every request answered within the timeouts.
    assert_answers(load, allow(("order", 502, "bad_gateway"), ("cancel", 502, "bad_gateway")))
    in_flight = [a for a in load.select() if a.status == 502]
    assert all(a.start <= t_kill + 0.5 for a in in_flight), (
        f"502s for requests started after the kill (nginx should use the other responder): "
        f"{[a for a in in_flight if a.start > t_kill + 0.5][:5]}"
    )
    reads_502 = [a for a in load.select("read") if a.status == 502]
    assert not reads_502, f"GETs are retried on the other responder by nginx, yet got 502: {reads_502[:3]}"
    case_report.add("502s", f"{len(in_flight)} (requests in flight on the killed process), "
                            f"max latency {load.max_latency():.2f} s")

    books = verify_books(admin_api, initial, load, baseline)
    count, executed = executed_despite(load, books["_order_of_key"], 502)
    case_report.add("502'd POSTs", f"{count}; {len(executed)} of them had been committed before the kill "
                                   f"(the retry with the same Idempotency-Key replayed the order)")
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
