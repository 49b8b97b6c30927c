"""Fault 6: SIGTERM to one responder process (the pool) under load.

Two orders are made to be in flight on fcgi-1 when the signal lands: sent straight to its socket
with the test hook's lock delay (2 s), each on its own product. Then SIGTERM:
- the in-flight requests complete: both delayed orders answer 201 after the signal, and the
  process exits 0 after them (supervisord logs `exited: responder-1 (exit status 0; ...)`);
- supervisord restarts it.
What the code guarantees to nginx's other requests: on SIGTERM the responder shuts its listening
socket down and unlinks it, wakes the threads idle on kept-alive connections, and finishes every
request a thread has already accepted. A request nginx had written into the listen backlog or onto
a kept-alive connection that was being closed is never read, so it is never executed; nginx answers
502 for it when it is a POST (never resent to another responder once written: no
`non_idempotent`), and resends it to the other responder when it is a GET. So: GETs never see a
5xx; POSTs see at most 502 bad_gateway, and a POST that got 502 was not executed (its retry with
the same Idempotency-Key creates the order, it does not replay one). No 500/503/504.
"""

import os
import signal
import time

from stockroom_kit.chaos import (
    LOAD_STOCKS,
    DelayedOrder,
    OrderLoad,
    allow,
    assert_answers,
    executed_despite,
    fcgi_health,
    verify_books,
)
from stockroom_kit.stack import (
    exit_status,
    log_size,
    max_order_id,
    responder_pid,
    supervisord_log,
    wait_for,
    wait_new_responder,
)


def test_sigterm_responder_under_load(admin_api, customer_tokens, new_customer_token, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    q = make_products(10, 10)
    holder_token = new_customer_token()
    baseline = max_order_id()
    pid = responder_pid(1)
    offset = log_size(supervisord_log())

    load = OrderLoad(customer_tokens, list(initial)).start()
    holders = [DelayedOrder(1, holder_token, qid, delay_ms=2000) for qid in q]
    exit_line = None
    try:
        time.sleep(3)
        for h in holders:
            h.start()
        holders[0].wait_holding(5)
        holders[1].wait_holding(5, others=[holders[0].connection_id])
        t_term = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        for h in holders:
            h.join(15)

        def exited():
            status = exit_status("responder-1", offset)
            return status and (status, time.monotonic())

        exit_line = wait_for(exited, 15, 0.02)
        new = wait_new_responder(1, pid, 10)
        healthy = wait_for(lambda: fcgi_health(1, timeout=2) == 200 and time.monotonic(), 10, 0.05)
        time.sleep(3)
    finally:
        hung = load.stop()

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers", load.counts())

    # In flight at the signal: completed, then the process exited 0.
    for h in holders:
        assert h.error is None and h.response is not None and h.response.status == 201, (
            f"in-flight order on product {h.product_id}: {h.response and (h.response.status, h.response.body[:200])} {h.error!r}"
        )
        assert h.ended_at > t_term
    assert exit_line, "fcgi-1 did not exit within 15 s of SIGTERM"
    status, t_exit = exit_line
    assert status == "0", f"stockroom-fcgi exited with {status}"
    assert t_exit >= max(h.ended_at for h in holders) - 0.05, "the process exited before its in-flight requests answered"
    case_report.add("in flight", f"2 orders holding row locks answered 201 "
                                 f"{max(h.ended_at for h in holders) - t_term:.2f} s after SIGTERM; "
                                 f"exit status 0 logged {t_exit - t_term:.2f} s after SIGTERM")
    assert new is not None, "fcgi-1 was not restarted within 10 s"
    assert healthy, "the restarted fcgi-1 did not answer /health 200 within 10 s"
    case_report.add("restart", f"pid {pid} -> {new}; /health 200 on its socket {healthy - t_term:.2f} s after SIGTERM")

    # The rest of the load: POSTs 502 at most (never executed), GETs always answered.
    assert_answers(load, allow(("order", 502, "bad_gateway"), ("cancel", 502, "bad_gateway")))
    books = verify_books(admin_api, {**initial, **q}, load, baseline,
                         extra_acked={h.key: h.response.json()["id"] for h in holders})
    count, executed = executed_despite(load, books["_order_of_key"], 502)
    assert not executed, f"POSTs answered 502 that were executed anyway: {executed}"
    case_report.add("502s", f"{count} POSTs answered 502 (written to the closing socket), none executed; "
                            f"GETs: {load.counts(load.select('read'))}; max latency {load.max_latency():.2f} s")
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
