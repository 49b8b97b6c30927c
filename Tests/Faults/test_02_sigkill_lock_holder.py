"""Fault 2: SIGKILL a responder after SELECT ... FOR UPDATE and before COMMIT.

An order for product P is sent straight to fcgi-1's socket with X-Stockroom-Test-Lock-Delay-Ms
(test hook, STOCKROOM_TEST_HOOKS=1): it takes P's row lock and sleeps, so the process holding the
lock is known for certain. While the load runs on other products, fcgi-1 is killed mid-sleep:
the transaction rolls back (no order row, no idempotency key, stock of P unchanged), MariaDB frees
the row lock, and the next buyer of P through nginx is served. Then the checks of every case.
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
    verify_books,
)
from stockroom_kit.client import Api, assert_status, list_all_orders
from stockroom_kit.stack import (
    db_exec,
    max_order_id,
    responder_pid,
    row_locked,
    stockroom_connections,
    wait_for,
    wait_new_responder,
)

P_STOCK = 50


def test_sigkill_responder_holding_a_row_lock(admin_api, customer_tokens, new_customer_token, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    (p,) = make_products(P_STOCK)
    holder_token = new_customer_token()
    baseline = max_order_id()
    old = responder_pid(1)

    load = OrderLoad(customer_tokens, list(initial)).start()
    buyer = Api(token=customer_tokens[0])
    try:
        time.sleep(2)
        holder = DelayedOrder(1, holder_token, p, delay_ms=5000)
        holder.start()
        t_locked = holder.wait_holding(5)
        time.sleep(0.5)  # well inside the 5 s sleep: after FOR UPDATE, before COMMIT
        t_kill = time.monotonic()
        os.kill(old, signal.SIGKILL)
        holder.join(10)

        # The lock is released as soon as MariaDB sees the connection close.
        t_free = wait_for(lambda: not row_locked(p) and time.monotonic(), 5, 0.02)
        t_gone = wait_for(lambda: holder.connection_id not in {c for c, _, _ in stockroom_connections()}
                          and time.monotonic(), 5, 0.02)
        # The next buyer of P, through nginx, is served.
        next_key = "chaos-next-" + os.urandom(8).hex()
        t_buy = time.monotonic()
        r = buyer.post("/api/v1/orders", json={"items": [{"product_id": p, "quantity": 1}]},
                       headers={"Idempotency-Key": next_key}, timeout=(5, 32))
        t_served = time.monotonic()
        new = wait_new_responder(1, old, 10)
        time.sleep(2)
    finally:
        hung = load.stop()
        buyer.close()

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers (load on other products)", load.counts())
    assert holder.response is None, f"the killed responder answered: {holder.response}"
    case_report.add("holder", f"row lock of product {p} held {t_kill - t_locked:.2f} s by fcgi-1 pid {old} "
                              f"before SIGKILL; its connection got {type(holder.error).__name__}")
    assert t_free, f"the row lock of product {p} was still held 5 s after the holder was killed"
    assert t_gone, f"MariaDB still lists the killed holder's connection {holder.connection_id} 5 s after the kill"
    case_report.add("lock freed", f"{t_free - t_kill:.2f} s after the kill (connection {holder.connection_id} "
                                  f"gone from the processlist {t_gone - t_kill:.2f} s after it)")

    next_order = assert_status(r, 201)
    assert t_served - t_buy < 3, f"the next buyer of {p} took {t_served - t_buy:.2f} s"
    case_report.add("next buyer", f"201 (order {next_order['id']}) in {t_served - t_buy:.2f} s, "
                                  f"{t_served - t_kill:.2f} s after the kill")
    assert new is not None, f"fcgi-1 was not restarted within 10 s of SIGKILL of {old}"

    # The killed transaction left nothing: no order of the holder, no key, stock of P = initial - 1
    # (the next buyer's unit only).
    holder_api = Api(token=holder_token)
    try:
        mine = list_all_orders(holder_api)
    finally:
        holder_api.close()
    assert mine == [], f"the killed order left orders behind: {mine}"
    assert db_exec(f"SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = '{holder.key}'").strip() == "0"
    stock_p = assert_status(admin_api.get(f"/api/v1/products/{p}"), 200)["stock"]
    assert stock_p == P_STOCK - 1, f"stock of {p}: {stock_p}, expected {P_STOCK} - 1 (the next buyer)"
    case_report.add("rollback", f"no order and no key for the killed request; stock of P {P_STOCK} -> {stock_p} "
                                f"(only the next buyer's unit)")

    # The load on the other products: at most the requests in flight on fcgi-1 failed, with 502.
    assert_answers(load, allow(("order", 502, "bad_gateway"), ("cancel", 502, "bad_gateway")))
    case_report.add("502s", sum(1 for a in load.select() if a.status == 502))

    all_products = dict(initial)
    all_products[p] = P_STOCK
    books = verify_books(admin_api, all_products, load, baseline, extra_acked={next_key: next_order["id"]})
    count, executed = executed_despite(load, books["_order_of_key"], 502)
    case_report.add("502'd POSTs", f"{count}; {len(executed)} of them had been committed before the kill "
                                   f"(the retry with the same Idempotency-Key replayed the order)")
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
