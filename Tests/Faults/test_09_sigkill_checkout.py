"""Fault 9 (issue 10): SIGKILL a responder while checkouts hold their locks.

Three customers each have a cart (two units of their own product and their own promo code). Their
checkouts are sent straight to fcgi-1's socket with X-Stockroom-Test-Lock-Delay-Ms (test hook,
STOCKROOM_TEST_HOOKS=1): each locks its cart row and its product row and sleeps, so the process
holding the locks is known for certain. While the order load runs on other products, fcgi-1 is
killed mid-sleep. Each transaction rolls back: no order, no half-written order rows, no redemption,
no idempotency key, stock unchanged, and each cart intact (its line and its code). MariaDB frees the
locks; the same checkout (same Idempotency-Key) through nginx afterwards is a first use and succeeds.
Then the checks of every case (stockroomctl check clean, stock conservation of the load).
"""

import os
import signal
import time
from decimal import Decimal

from stockroom_kit.chaos import (
    LOAD_STOCKS,
    DelayedCheckout,
    OrderLoad,
    allow,
    assert_answers,
    fcgi_health,
    verify_books,
)
from stockroom_kit.client import (
    Api,
    assert_cart,
    assert_order,
    assert_status,
    cart_lines,
    checkout,
    create_promo_code,
    fill_cart,
    get_cart,
    get_promo_code,
    list_all_orders,
)
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
HOLDERS = 3


def test_sigkill_responder_holding_checkout_locks(admin_api, customer_tokens, new_customer_token, make_products,
                                                  case_report):
    initial = make_products(*LOAD_STOCKS)
    mine = make_products(*([P_STOCK] * HOLDERS))
    holders = []
    for pid in mine:
        token = new_customer_token()
        code = create_promo_code(admin_api, kind="percent", value=Decimal("10.00"), max_redemptions=10)
        client = Api(token=token)
        try:
            cart = fill_cart(client, token, (pid, 2), code=code["code"])
        finally:
            client.close()
        assert_cart(cart, lines=[(pid, 2)], promo_code=code["code"], applies=True)
        holders.append({"token": token, "product": pid, "code": code, "cart": cart})
    baseline = max_order_id()
    old = responder_pid(1)

    load = OrderLoad(customer_tokens, list(initial)).start()
    delayed = []
    try:
        time.sleep(2)
        known = set()
        t_locked = None
        for h in holders:
            d = DelayedCheckout(1, h["token"], h["product"], delay_ms=8000)
            d.start()
            t_locked = d.wait_holding(5, others=known)
            known.add(d.connection_id)
            delayed.append(d)
        time.sleep(0.5)  # inside every sleep: after the locks, before COMMIT
        t_kill = time.monotonic()
        os.kill(old, signal.SIGKILL)
        for d in delayed:
            d.join(10)

        t_free = wait_for(lambda: not any(row_locked(h["product"]) for h in holders) and time.monotonic(), 5, 0.02)
        gone = {d.connection_id for d in delayed}
        t_gone = wait_for(lambda: not (gone & {c for c, _, _ in stockroom_connections()}) and time.monotonic(), 5, 0.02)
        new = wait_new_responder(1, old, 10)
        healthy = wait_for(lambda: fcgi_health(1, timeout=2) == 200, 10, 0.05)
        time.sleep(2)
    finally:
        hung = load.stop()

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers (load on other products)", load.counts())
    for d in delayed:
        assert d.response is None, f"the killed responder answered a checkout: {d.response}"
    case_report.add("holders", f"{len(delayed)} checkouts held their cart and product locks on fcgi-1 pid {old} "
                               f"(connections {sorted(gone)}) for {t_kill - t_locked:.2f} s or more before SIGKILL")
    assert t_free, "a product row lock was still held 5 s after the holders were killed"
    assert t_gone, f"MariaDB still lists a killed holder's connection 5 s after the kill: {gone}"
    case_report.add("locks freed", f"{t_free - t_kill:.2f} s after the kill")
    assert new is not None and healthy, "fcgi-1 was not restarted and healthy within 10 s of SIGKILL"

    # Nothing of the killed checkouts remains, and each cart is intact (lines and code).
    for h, d in zip(holders, delayed):
        client = Api(token=h["token"])
        try:
            assert list_all_orders(client) == [], f"the killed checkout of {h['product']} left an order"
            cart = get_cart(client, h["token"])
            assert_cart(cart, lines=[(h["product"], 2)], promo_code=h["code"]["code"], applies=True)
            assert cart["items"] == h["cart"]["items"] and cart["total"] == h["cart"]["total"], cart
        finally:
            client.close()
        assert db_exec(f"SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = '{d.key}'").strip() == "0"
        assert assert_status(admin_api.get(f"/api/v1/products/{h['product']}"), 200)["stock"] == P_STOCK
        assert get_promo_code(admin_api, h["code"]["id"])["redemptions"] == 0
    # No order row of the case without its lines (a half-written order), none at all for the holders' products.
    half = db_exec(f"SELECT COUNT(*) FROM orders o WHERE o.id > {int(baseline)} AND NOT EXISTS "
                   f"(SELECT 1 FROM order_items i WHERE i.order_id = o.id)").strip()
    assert half == "0", f"{half} orders without lines"
    ids = ",".join(str(h["product"]) for h in holders)
    assert db_exec(f"SELECT COUNT(*) FROM order_items WHERE product_id IN ({ids})").strip() == "0"
    case_report.add("rollback", f"{len(holders)} carts intact (line and code), no order, no key, no redemption, "
                                f"stock {P_STOCK} each")

    # The same checkouts through nginx, with the same keys: a first use, and they succeed.
    for h, d in zip(holders, delayed):
        client = Api(token=h["token"])
        try:
            r = checkout(client, key=d.key, timeout=(5, 32))
            o = assert_order(assert_status(r, 201))
            assert r.headers.get("Idempotent-Replayed", "").lower() != "true", r.headers
            assert cart_lines(o) == [(h["product"], 2)] and o["promo_code"] == h["code"]["code"], o
            assert_cart(get_cart(client, h["token"]), lines=[], promo_code=None)
        finally:
            client.close()
        assert assert_status(admin_api.get(f"/api/v1/products/{h['product']}"), 200)["stock"] == P_STOCK - 2
        assert get_promo_code(admin_api, h["code"]["id"])["redemptions"] == 1
    case_report.add("after", "each checkout again through nginx with its key: 201, not a replay")

    # The load on the other products: at most the requests in flight on fcgi-1 failed, with 502.
    assert_answers(load, allow(("order", 502, "bad_gateway"), ("cancel", 502, "bad_gateway")))
    case_report.add("502s", sum(1 for a in load.select() if a.status == 502))
    books = verify_books(admin_api, initial, load, baseline)
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
