"""Issue 3: stock under concurrency — 100 buyers for 10 units; 200 mixed multi-item orders, restocks and
cancels 40 at a time (no 5xx, exact conservation); racing cancels give the stock back once."""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.client import (
    Api,
    assert_error,
    assert_order,
    assert_status,
    cancel_path,
    describe,
    jbody,
    list_all_orders,
    order_body,
    place_order,
    product_stock,
)
from stockroom_kit.stack import assert_check_clean

RACE_TIMEOUT = 30  # seconds per request under load


def _outcome(r):
    """(status, error code or None) of a response."""
    code = None
    if r.status_code >= 400:
        try:
            code = jbody(r)["error"]["code"]
        except Exception:  # noqa: BLE001 - a non-JSON error is itself reported through the tally
            code = "<not a JSON error>"
    return r.status_code, code


def _customers(new_user, n):
    return [new_user("conc") for _ in range(n)]


# ---------------------------------------------------------------- (a) 100 buyers, 10 units


def test_100_buyers_for_10_units(url, api, make_product, new_user):
    p = make_product(stock=10)
    customers = _customers(new_user, 10)
    n = 100
    barrier = threading.Barrier(n)

    def buy(i):
        client = Api(url, customers[i % len(customers)]["token"])  # its own Session / connection
        try:
            client.get("/health/live", timeout=RACE_TIMEOUT)  # connect before the start line
            barrier.wait(timeout=30)
            return client.post("/api/v1/orders", json={"product_id": p["id"], "quantity": 1},
                               timeout=RACE_TIMEOUT)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(buy, range(n)))

    tally = Counter(_outcome(r) for r in responses)
    assert tally == Counter({(201, None): 10, (409, "insufficient_stock"): 90}), dict(tally)
    ids = set()
    for r in responses:
        if r.status_code == 201:
            o = assert_order(jbody(r), status="pending")
            assert [(i["product_id"], i["quantity"]) for i in o["items"]] == [(p["id"], 1)]
            ids.add(o["id"])
        else:
            err = assert_error(r, 409, "insufficient_stock")
            assert err.get("product_id") == p["id"] and err.get("available") == 0, describe(r)
    assert len(ids) == 10
    assert product_stock(api, p["id"]) == 0
    assert_check_clean()


# ---------------------------------------------------------------- (b) 200 mixed requests


def test_mixed_orders_restocks_cancels_conserve_stock(url, api, make_product, new_user, admin_token):
    initial = 60
    a = make_product(stock=initial)
    b = make_product(stock=initial)
    A, B = a["id"], b["id"]
    customers = _customers(new_user, 5)
    rng = random.Random(20260109)

    # The plan: 200 operations, shuffled; orders name A and B in both orders.
    plan = []
    for i in range(120):
        qa, qb = rng.randint(1, 3), rng.randint(1, 3)
        lines = [(A, qa), (B, qb)] if i % 2 == 0 else [(B, qb), (A, qa)]
        plan.append(("order", customers[i % len(customers)], lines))
    for i in range(40):
        plan.append(("restock", A if i % 2 == 0 else B, rng.randint(1, 6)))
    for _ in range(40):
        plan.append(("cancel", None, None))
    rng.shuffle(plan)

    lock = threading.Lock()
    created = {}  # order id -> (token, lines) of orders answered 201
    cancellable = []  # ids not yet picked for a cancel
    cancelled = set()
    restocked = Counter()
    local = threading.local()
    sessions = []

    def client():  # one Session per pool thread
        if not hasattr(local, "api"):
            local.api = Api(url)
            with lock:
                sessions.append(local.api)
        return local.api

    def run(op):
        kind, x, y = op
        c = client()
        if kind == "cancel":
            with lock:
                target = cancellable.pop(rng.randrange(len(cancellable))) if cancellable else None
            if target is None:  # nothing to cancel yet: buy instead
                kind, x, y = "order", customers[0], [(A, 1), (B, 1)]
            else:
                oid, token = target
                r = c.post(cancel_path(oid), token=token, timeout=RACE_TIMEOUT)
                if r.status_code == 200:
                    with lock:
                        cancelled.add(oid)
                return ("cancel",) + _outcome(r) + (describe(r) if r.status_code != 200 else "",)
        if kind == "order":
            r = place_order(c, order_body(*y), token=x["token"], timeout=RACE_TIMEOUT)
            if r.status_code == 201:
                o = jbody(r)
                with lock:
                    created[o["id"]] = (x["token"], y)
                    cancellable.append((o["id"], x["token"]))
            return ("order",) + _outcome(r) + (describe(r) if r.status_code not in (201, 409) else "",)
        r = c.post(f"/api/v1/products/{x}/restock", json={"quantity": y}, token=admin_token, timeout=RACE_TIMEOUT)
        if r.status_code == 200:
            with lock:
                restocked[x] += y
        return ("restock",) + _outcome(r) + (describe(r) if r.status_code != 200 else "",)

    try:
        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(run, plan))
    finally:
        for s in sessions:
            s.close()
    tally = Counter(res[:3] for res in results)
    print(f"mixed run: {dict(tally)}; restocked {dict(restocked)}; {len(created)} orders, {len(cancelled)} cancelled")
    allowed = {("order", 201, None), ("order", 409, "insufficient_stock"), ("restock", 200, None),
               ("cancel", 200, None)}
    bad = [res for res in results if res[:3] not in allowed]
    fivexx = [res for res in results if res[1] >= 500]
    assert not fivexx, f"{len(fivexx)} 5xx answers (503 busy included); tally {dict(tally)}\n" + "\n".join(
        res[3] for res in fivexx[:5])
    assert not bad, f"unexpected answers; tally {dict(tally)}\n" + "\n".join(res[3] for res in bad[:5])
    assert tally[("order", 201, None)] >= 20, dict(tally)  # the run did exercise the lock path

    # Conservation, from the orders as the API lists them.
    orders = [o for o in list_all_orders(api, admin_token) if {i["product_id"] for i in o["items"]} & {A, B}]
    for o in orders:
        assert_order(o)
    listed_ids = {o["id"] for o in orders}
    assert listed_ids == set(created), (sorted(listed_ids ^ set(created)))
    listed_cancelled = {o["id"] for o in orders if o["status"] == "cancelled"}
    assert listed_cancelled == cancelled
    sold = Counter()
    for o in orders:
        if o["status"] != "cancelled":
            for item in o["items"]:
                sold[item["product_id"]] += item["quantity"]
    for pid in (A, B):
        stock = product_stock(api, pid)
        assert stock == initial + restocked[pid] - sold[pid], (
            f"product {pid}: stock {stock} != {initial} + {restocked[pid]} restocked - {sold[pid]} sold; "
            f"tally {dict(tally)}"
        )
        assert stock >= 0
    assert_check_clean()


# ---------------------------------------------------------------- (c) racing cancels


def test_racing_cancels_give_stock_back_once(url, api, make_product, new_user, admin_token):
    p = make_product(stock=50)
    owner = new_user("canc")
    rounds = 5
    for _ in range(rounds):
        o = assert_status(place_order(api, order_body((p["id"], 4)), token=owner["token"]), 201)
        before = product_stock(api, p["id"])
        tokens = [owner["token"], admin_token]  # owner and admin race
        clients = [Api(url, t) for t in tokens]
        for c in clients:
            c.get("/health/live")
        barrier = threading.Barrier(2)

        def cancel(c):
            barrier.wait(timeout=10)
            return c.post(cancel_path(o["id"]), timeout=RACE_TIMEOUT)

        with ThreadPoolExecutor(max_workers=2) as pool:
            responses = list(pool.map(cancel, clients))
        for c in clients:
            c.close()
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409], [describe(r) for r in responses]
        for r in responses:
            if r.status_code == 200:
                assert_order(jbody(r), status="cancelled")
            else:
                assert_error(r, 409, "order_not_cancellable")
        assert product_stock(api, p["id"]) == before + 4
    assert product_stock(api, p["id"]) == 50
    assert_check_clean()
