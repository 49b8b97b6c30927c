"""Issue 10, carts and checkout under concurrency, every race with exact expected counts: 20
simultaneous adds to one line; 10 simultaneous checkouts of one cart (without and with one
Idempotency-Key); adds racing a checkout (units conserved); 20 buyers for a code with 5 redemptions;
max_per_user with a checkout and direct orders at once; a 30 s mixed load of carts, checkouts,
direct orders, cancels and restocks with no 5xx, stock conservation and `stockroomctl check` clean.

Every thread has its own connection, opened before a barrier releases them together; every request
has a timeout, every thread pool a bounded run.
"""

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from stockroom_kit.client import (
    Api,
    add_to_cart,
    apply_code,
    assert_cart,
    assert_error,
    assert_order,
    assert_same_order,
    assert_status,
    cancel_path,
    cart_lines,
    checkout,
    describe,
    fill_cart,
    get_cart,
    get_promo_code,
    jbody,
    list_all_orders,
    new_customers,
    order_body,
    outcome,
    place_order,
    product_stock,
    replayed,
)
from stockroom_kit.fastcgi import FcgiConnectionClosed, fcgi_call
from stockroom_kit.plugin import observe
from stockroom_kit.stack import assert_check_clean, max_order_id, stack_dir

D = Decimal
RACE_TIMEOUT = 30  # seconds per request under load


def race(url, tokens, action):
    """Runs action(client, i) for i in range(len(tokens)) on as many threads, each with its own
    connection (opened first), released together by a barrier; the results in index order."""
    n = len(tokens)
    barrier = threading.Barrier(n)

    def run(i):
        client = Api(url, tokens[i])
        try:
            client.get("/health/live", timeout=RACE_TIMEOUT)
            barrier.wait(timeout=30)
            return action(client, i)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def tally(responses):
    return Counter(outcome(r) for r in responses)


def _own_orders(api, token):
    return list_all_orders(api, token)


# ---------------------------------------------------------------- 20 adds to one line


def test_20_simultaneous_adds_make_exactly_20(url, api, make_product, new_user):
    p = make_product(stock=1000)
    q = make_product(stock=1000)
    user = new_user("radd")  # never wrote to the cart: the cart itself is created by the race
    n = 20
    responses = race(url, [user["token"]] * n, lambda c, i: add_to_cart(c, p["id"], 1, timeout=RACE_TIMEOUT))
    t = tally(responses)
    assert t == Counter({(200, None): n}), dict(t)
    for r in responses:
        assert_cart(jbody(r))
    assert cart_lines(get_cart(api, user["token"])) == [(p["id"], 20)]

    # again on the existing line, next to 20 adds of the other product
    responses = race(url, [user["token"]] * (2 * n),
                     lambda c, i: add_to_cart(c, p["id"] if i % 2 else q["id"], 1, timeout=RACE_TIMEOUT))
    t = tally(responses)
    assert t == Counter({(200, None): 2 * n}), dict(t)
    assert cart_lines(get_cart(api, user["token"])) == sorted([(p["id"], 40), (q["id"], 20)])
    observe(f"carts: 20 simultaneous adds -> line at 20; 40 more on two lines -> 40 and 20 ({dict(t)})")


def test_simultaneous_adds_of_different_products_keep_every_line(url, api, make_product, new_user):
    products = [make_product(stock=10) for _ in range(20)]
    user = new_user("raddm")
    responses = race(url, [user["token"]] * 20, lambda c, i: add_to_cart(c, products[i]["id"], 1 + i % 3,
                                                                          timeout=RACE_TIMEOUT))
    assert tally(responses) == Counter({(200, None): 20}), dict(tally(responses))
    assert cart_lines(get_cart(api, user["token"])) == sorted((p["id"], 1 + i % 3) for i, p in enumerate(products))


# ---------------------------------------------------------------- 10 checkouts of one cart


def test_10_simultaneous_checkouts_make_one_order(url, api, make_product, make_promo_code, admin_api, new_user):
    a = make_product(price=D("3.00"), stock=50)
    b = make_product(price=D("4.00"), stock=50)
    code = make_promo_code(kind="amount", value=D("1.00"))
    rounds = 3
    for round_ in range(rounds):
        user = new_user("rco")
        cart = fill_cart(api, user["token"], (a["id"], 3), (b["id"], 1), code=code["code"])
        before = (product_stock(api, a["id"]), product_stock(api, b["id"]))
        responses = race(url, [user["token"]] * 10, lambda c, i: checkout(c, timeout=RACE_TIMEOUT))
        t = tally(responses)
        assert t == Counter({(201, None): 1, (409, "cart_empty"): 9}), dict(t)
        [won] = [r for r in responses if r.status_code == 201]
        o = assert_order(jbody(won), user_id=user["user"]["id"])
        assert cart_lines(o) == cart_lines(cart) and o["total"] == cart["total"] and o["promo_code"] == code["code"]
        assert (product_stock(api, a["id"]), product_stock(api, b["id"])) == (before[0] - 3, before[1] - 1)
        assert [x["id"] for x in _own_orders(api, user["token"])] == [o["id"]]
        assert_cart(get_cart(api, user["token"]), lines=[], promo_code=None)
    assert get_promo_code(admin_api, code["id"])["redemptions"] == rounds
    observe(f"checkout: 10 simultaneous checkouts of one cart, {rounds} rounds: 1 x 201 + 9 x 409 cart_empty each")


def test_10_simultaneous_checkouts_with_one_key(url, api, make_product, new_user):
    p = make_product(price=D("2.00"), stock=50)
    for round_ in range(3):
        user = new_user("rcok")
        fill_cart(api, user["token"], (p["id"], 4))
        before = product_stock(api, p["id"])
        key = "race-" + uuid.uuid4().hex
        responses = race(url, [user["token"]] * 10, lambda c, i: checkout(c, key=key, timeout=RACE_TIMEOUT))
        t = tally(responses)
        assert t == Counter({(201, None): 10}), dict(t)
        originals = [r for r in responses if not replayed(r)]
        assert len(originals) == 1, f"{len(originals)} answers without Idempotent-Replayed: true"
        first = assert_order(jbody(originals[0]), user_id=user["user"]["id"])
        for r in responses:
            assert_same_order(assert_order(jbody(r)), first)
            assert r.headers.get("Location", "").endswith(f"/api/v1/orders/{first['id']}"), describe(r)
        assert cart_lines(first) == [(p["id"], 4)]
        assert product_stock(api, p["id"]) == before - 4
        assert [x["id"] for x in _own_orders(api, user["token"])] == [first["id"]]
    observe("checkout: 10 simultaneous checkouts with one Idempotency-Key, 3 rounds: 1 order, 9 replays each")


# ---------------------------------------------------------------- adds racing a checkout


def test_adds_racing_a_checkout_are_in_the_order_or_in_the_cart(url, api, make_product, new_user):
    p = make_product(stock=1000)
    q = make_product(stock=1000)
    r_ = make_product(stock=1000)  # not in the cart before the race: its line is created during it
    initial = {p["id"]: 5, q["id"]: 2, r_["id"]: 0}
    adders, adds_each = 12, 2
    rounds = 5
    summary = Counter()
    for round_ in range(rounds):
        user = new_user("rrace")
        fill_cart(api, user["token"], (p["id"], 5), (q["id"], 2))
        stock_before = {pid: product_stock(api, pid) for pid in initial}
        targets = [p["id"], q["id"], r_["id"]]

        def act(c, i):
            if i == adders:  # the checkout, after a short random head start of the adds
                time.sleep(random.uniform(0, 0.02))
                return [("checkout", None, checkout(c, timeout=RACE_TIMEOUT))]
            out = []
            for k in range(adds_each):
                pid = targets[(i + k) % 3]
                out.append(("add", pid, add_to_cart(c, pid, 1, timeout=RACE_TIMEOUT)))
            return out

        results = [x for batch in race(url, [user["token"]] * (adders + 1), act) for x in batch]
        t = Counter((kind,) + outcome(r) for kind, _, r in results)
        assert t == Counter({("add", 200, None): adders * adds_each, ("checkout", 201, None): 1}), dict(t)
        added = Counter(pid for kind, pid, r in results if kind == "add")
        [co] = [r for kind, _, r in results if kind == "checkout"]
        ordered = dict(cart_lines(assert_order(jbody(co))))
        in_cart = dict(cart_lines(get_cart(api, user["token"])))
        for pid, start in initial.items():
            o, c = ordered.get(pid, 0), in_cart.get(pid, 0)
            assert o + c == start + added[pid], (
                f"round {round_}, product {pid}: {o} ordered + {c} in the cart != {start} + {added[pid]} added; "
                f"order {ordered}, cart {in_cart}")
            assert product_stock(api, pid) == stock_before[pid] - o
            summary["ordered"] += o
            summary["left in cart"] += c
        assert ordered.get(p["id"], 0) >= 5 and ordered.get(q["id"], 0) >= 2, ordered  # the lines read at checkout
    observe(f"checkout: adds racing a checkout, {rounds} rounds x {adders * adds_each} adds: units conserved "
            f"({dict(summary)})")


# ---------------------------------------------------------------- a code's max_redemptions under 20 buyers


def test_code_with_5_redemptions_and_20_buyers(url, api, admin_api, make_product, make_promo_code):
    p = make_product(price=D("10.00"), stock=100)
    code = make_promo_code(kind="percent", value=D("20.00"), max_redemptions=5)
    buyers = new_customers(api, 20, "rpc")
    for b in buyers:
        fill_cart(api, b["token"], (p["id"], 1), code=code["code"])
    responses = race(url, [b["token"] for b in buyers], lambda c, i: checkout(c, timeout=RACE_TIMEOUT))
    t = tally(responses)
    assert t == Counter({(201, None): 5, (409, "promo_code_exhausted"): 15}), dict(t)
    for b, r in zip(buyers, responses):
        mine = _own_orders(api, b["token"])
        if r.status_code == 201:
            o = assert_order(jbody(r), user_id=b["user"]["id"])
            assert o["promo_code"] == code["code"] and o["discount"] == D("2.00") and o["total"] == D("8.00"), o
            assert [x["id"] for x in mine] == [o["id"]]
            assert_cart(get_cart(api, b["token"]), lines=[], promo_code=None)
        else:
            # nothing changed for the refused buyer: the cart keeps its line and the code (now used up)
            assert mine == []
            assert_cart(get_cart(api, b["token"]), lines=[(p["id"], 1)], promo_code=code["code"], applies=False)
    assert product_stock(api, p["id"]) == 95
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 5
    assert_check_clean()
    observe(f"promo codes: max_redemptions 5, 20 simultaneous checkouts: {dict(t)}")


def test_max_per_user_with_a_checkout_and_direct_orders_at_once(url, api, admin_api, make_product, make_promo_code,
                                                               new_user):
    p = make_product(price=D("10.00"), stock=200)
    code = make_promo_code(kind="amount", value=D("1.00"), max_per_user=2)
    rounds, n = 3, 10
    for round_ in range(rounds):
        user = new_user("rppu")
        fill_cart(api, user["token"], (p["id"], 1), code=code["code"])
        stock = product_stock(api, p["id"])
        redemptions = get_promo_code(admin_api, code["id"])["redemptions"]

        def act(c, i):
            if i == 0:
                return checkout(c, timeout=RACE_TIMEOUT)
            return place_order(c, {"items": [{"product_id": p["id"], "quantity": 1}], "promo_code": code["code"]},
                               timeout=RACE_TIMEOUT)

        responses = race(url, [user["token"]] * n, act)
        t = tally(responses)
        assert t == Counter({(201, None): 2, (409, "promo_code_exhausted"): n - 2}), dict(t)
        orders = [assert_order(jbody(r), user_id=user["user"]["id"]) for r in responses if r.status_code == 201]
        assert all(o["promo_code"] == code["code"] and o["discount"] == D("1.00") for o in orders), orders
        assert sorted(x["id"] for x in _own_orders(api, user["token"])) == sorted(o["id"] for o in orders)
        assert product_stock(api, p["id"]) == stock - 2
        assert get_promo_code(admin_api, code["id"])["redemptions"] == redemptions + 2
        if responses[0].status_code == 201:
            assert_cart(get_cart(api, user["token"]), lines=[], promo_code=None)
        else:
            assert_error(responses[0], 409, "promo_code_exhausted")
            assert_cart(get_cart(api, user["token"]), lines=[(p["id"], 1)], promo_code=code["code"], applies=False)
    assert_check_clean()


# ---------------------------------------------------------------- 30 s of everything at once


def _conflicts() -> Counter:
    """Deadlocks (1213), lock wait timeouts (1205) and transaction retries so far, summed over every
    responder's own /metrics (each process counts its own)."""
    seen: Counter = Counter()
    for sock in sorted(stack_dir().glob("fcgi-*.sock")):
        try:
            text = fcgi_call(str(sock), "GET", "/metrics").stdout.decode(errors="replace")
        except (OSError, FcgiConnectionClosed) as exc:  # an observation only: a responder restarted meanwhile
            seen[f"unreadable {sock.name}: {type(exc).__name__}"] += 1
            continue
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if line.startswith("stockroom_db_errors_total") and 'code="1213"' in name:
                seen["deadlock"] += int(float(value))
            elif line.startswith("stockroom_db_errors_total") and 'code="1205"' in name:
                seen["lock wait timeout"] += int(float(value))
            elif line.startswith("stockroom_db_transaction_retries_total"):
                seen["retry"] += int(float(value))
    return seen


def test_mixed_load_of_carts_checkouts_orders_cancels_restocks(url, api, admin_api, admin_token, make_product,
                                                              make_promo_code):
    duration = 30.0
    conflicts_before = _conflicts()
    initial = 400
    products = [make_product(price=D(price), stock=initial) for price in ("1.00", "2.50", "7.99")]
    pids = [p["id"] for p in products]
    code = make_promo_code(kind="percent", value=D("10.00"), max_redemptions=25, max_per_user=3)
    shoppers = new_customers(api, 8, "rmixs")  # one cart each: one thread per shopper
    direct = new_customers(api, 4, "rmixd")
    baseline = max_order_id()

    lock = threading.Lock()
    results = []  # (kind, status, code, detail)
    created = {}  # order id -> token, of every 201 (checkout or direct)
    cancellable = []
    cancelled = set()
    restocked = Counter()
    deadline = time.monotonic() + duration

    def record(kind, r):
        status, err = outcome(r)
        with lock:
            results.append((kind, status, err, describe(r) if status >= 500 else ""))
        return status

    def created_order(r, token):
        o = jbody(r)
        with lock:
            if o["id"] not in created:
                created[o["id"]] = token
                cancellable.append((o["id"], token))

    def shopper(i):
        rnd = random.Random(1000 + i)
        c = Api(url, shoppers[i]["token"])
        try:
            while time.monotonic() < deadline:
                for _ in range(rnd.randint(1, 3)):
                    record("add", add_to_cart(c, rnd.choice(pids), rnd.randint(1, 3), timeout=RACE_TIMEOUT))
                if rnd.random() < 0.4:
                    record("apply", apply_code(c, code["code"]))
                if rnd.random() < 0.15:
                    record("edit", c.delete("/api/v1/cart/promo-code", timeout=RACE_TIMEOUT))
                key = "mix-" + uuid.uuid4().hex
                r = checkout(c, key=key, timeout=RACE_TIMEOUT)
                status = record("checkout", r)
                if status == 201:
                    created_order(r, shoppers[i]["token"])
                elif status == 409:
                    err = jbody(r)["error"]["code"]
                    if err in ("promo_code_exhausted", "promo_code_invalid", "promo_code_not_applicable"):
                        record("edit", c.delete("/api/v1/cart/promo-code", timeout=RACE_TIMEOUT))
                    elif err == "insufficient_stock":
                        record("edit", c.delete("/api/v1/cart", timeout=RACE_TIMEOUT))
        finally:
            c.close()

    def direct_buyer(i):
        rnd = random.Random(2000 + i)
        c = Api(url, direct[i]["token"])
        try:
            while time.monotonic() < deadline:
                chosen = rnd.sample(pids, rnd.randint(1, 3))
                body = order_body(*[(pid, rnd.randint(1, 3)) for pid in chosen])
                if rnd.random() < 0.3:
                    body["promo_code"] = code["code"]
                r = place_order(c, body, key="mixd-" + uuid.uuid4().hex, timeout=RACE_TIMEOUT)
                if record("order", r) == 201:
                    created_order(r, direct[i]["token"])
        finally:
            c.close()

    def canceller(i):
        rnd = random.Random(3000 + i)
        c = Api(url)
        try:
            while time.monotonic() < deadline:
                with lock:
                    target = cancellable.pop(rnd.randrange(len(cancellable))) if cancellable else None
                if target is None:
                    time.sleep(0.05)
                    continue
                oid, token = target
                r = c.post(cancel_path(oid), token=token, timeout=RACE_TIMEOUT)
                if record("cancel", r) == 200:
                    with lock:
                        cancelled.add(oid)
                time.sleep(rnd.uniform(0.05, 0.2))
        finally:
            c.close()

    def restocker(i):
        rnd = random.Random(4000 + i)
        c = Api(url, admin_token)
        try:
            while time.monotonic() < deadline:
                pid, qty = rnd.choice(pids), rnd.randint(1, 8)
                r = c.post(f"/api/v1/products/{pid}/restock", json={"quantity": qty}, timeout=RACE_TIMEOUT)
                if record("restock", r) == 200:
                    with lock:
                        restocked[pid] += qty
                time.sleep(rnd.uniform(0.05, 0.15))
        finally:
            c.close()

    jobs = ([(shopper, i) for i in range(len(shoppers))] + [(direct_buyer, i) for i in range(len(direct))]
            + [(canceller, i) for i in range(2)] + [(restocker, 0)])
    pool = ThreadPoolExecutor(max_workers=len(jobs))
    futures = [pool.submit(fn, i) for fn, i in jobs]
    try:
        for f in futures:
            f.result(timeout=duration + RACE_TIMEOUT + 30)  # a thread's exception fails the test here
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

    t = Counter(res[:3] for res in results)
    conflicts = _conflicts()
    conflicts.subtract(conflicts_before)
    observe(f"mixed load {duration:.0f} s: {sum(t.values())} requests, {dict(sorted(t.items(), key=str))}; "
            f"{len(created)} orders, {len(cancelled)} cancelled, restocked {dict(restocked)}; "
            f"conflicts the responders met (retried): {dict(conflicts)}")
    fivexx = [res for res in results if res[1] >= 500]
    assert not fivexx, f"{len(fivexx)} 5xx answers (503 busy included); tally {dict(t)}\n" + "\n".join(
        res[3] for res in fivexx[:5])
    allowed = {
        ("add", 200, None), ("add", 409, "insufficient_stock"),
        ("apply", 200, None), ("apply", 409, "promo_code_exhausted"),
        ("edit", 200, None), ("edit", 204, None),
        ("checkout", 201, None), ("checkout", 409, "insufficient_stock"), ("checkout", 409, "promo_code_exhausted"),
        ("checkout", 409, "cart_empty"),
        ("order", 201, None), ("order", 409, "insufficient_stock"), ("order", 409, "promo_code_exhausted"),
        ("cancel", 200, None),
        ("restock", 200, None),
    }
    bad = [res for res in results if res[:3] not in allowed]
    assert not bad, f"unexpected answers {Counter(b[:3] for b in bad)}; tally {dict(t)}"
    assert t[("checkout", 201, None)] >= 20 and t[("order", 201, None)] >= 20, dict(t)  # the run did exercise both

    # Conservation, from the orders as the API lists them (admin: all orders after the baseline).
    orders = [o for o in list_all_orders(admin_api, after=baseline) if {i["product_id"] for i in o["items"]} & set(pids)]
    for o in orders:
        assert_order(o)
    assert {o["id"] for o in orders} == set(created), sorted({o["id"] for o in orders} ^ set(created))
    assert {o["id"] for o in orders if o["status"] == "cancelled"} == cancelled
    sold = Counter()
    for o in orders:
        if o["status"] != "cancelled":
            for item in o["items"]:
                sold[item["product_id"]] += item["quantity"]
    for pid in pids:
        stock = product_stock(api, pid)
        assert stock == initial + restocked[pid] - sold[pid] and stock >= 0, (
            f"product {pid}: stock {stock} != {initial} + {restocked[pid]} restocked - {sold[pid]} sold")
    # The code: redemptions = non-cancelled orders with it, within max_redemptions and max_per_user.
    with_code = [o for o in orders if o["promo_code"] == code["code"] and o["status"] != "cancelled"]
    assert get_promo_code(admin_api, code["id"])["redemptions"] == len(with_code) <= 25
    per_user = Counter(o["user_id"] for o in with_code)
    assert all(n <= 3 for n in per_user.values()), per_user
    assert_check_clean()


# ---------------------------------------------------------------- deletes racing cart writes and checkouts


def test_adds_racing_a_product_delete_leave_no_line_of_it(url, api, admin_api, admin_token, make_product, new_user):
    """Adds of a product by 10 users racing its DELETE: each add answers 200 (it came first, and the
    delete then removed the line) or 404 product_not_found; afterwards no cart shows the product."""
    users = [new_user("rdel") for _ in range(10)]
    seen = Counter()
    for round_ in range(3):
        p = make_product(stock=100)
        other = make_product(stock=100)
        for u in users:
            assert_status(api.delete("/api/v1/cart", token=u["token"]), 204)
            fill_cart(api, u["token"], (other["id"], 1))
        tokens = [u["token"] for u in users] + [admin_token]

        def act(c, i):
            if i == len(users):
                time.sleep(0.002 + 0.006 * round_)  # later each round: some adds come first
                return c.delete(f"/api/v1/products/{p['id']}", timeout=RACE_TIMEOUT)
            return add_to_cart(c, p["id"], 1, timeout=RACE_TIMEOUT)

        responses = race(url, tokens, act)
        assert_status(responses[-1], 204)
        t = tally(responses[:-1])
        assert set(t) <= {(200, None), (404, "product_not_found")}, dict(t)
        seen.update(t)
        for u in users:
            assert_cart(get_cart(api, u["token"]), lines=[(other["id"], 1)])
        # the product is gone for the cart routes too
        assert_error(add_to_cart(api, p["id"], 1, token=users[0]["token"]), 404, "product_not_found")
    observe(f"carts: 10 adds racing a product DELETE, 3 rounds: {dict(seen)}; no cart kept the product")


def test_checkouts_racing_a_promo_code_delete(url, api, admin_api, admin_token, make_product, make_promo_code):
    """10 checkouts with a code racing the code's DELETE: each is 201 with the code (before the
    delete) or 409 promo_code_invalid with its cart untouched; redemptions = orders with it."""
    p = make_product(price=D("10.00"), stock=500)
    buyers = new_customers(api, 10, "rpdel")
    seen = Counter()
    for round_ in range(3):
        code = make_promo_code(kind="amount", value=D("1.00"))
        for b in buyers:
            fill_cart(api, b["token"], (p["id"], 1), code=code["code"])
        stock = product_stock(api, p["id"])
        tokens = [b["token"] for b in buyers] + [admin_token]

        def act(c, i):
            if i == len(buyers):
                time.sleep(random.uniform(0, 0.01))
                return c.delete(f"/api/v1/promo-codes/{code['id']}", timeout=RACE_TIMEOUT)
            return checkout(c, timeout=RACE_TIMEOUT)

        responses = race(url, tokens, act)
        assert_status(responses[-1], 204)
        t = tally(responses[:-1])
        assert set(t) <= {(201, None), (409, "promo_code_invalid")}, dict(t)
        seen.update(t)
        won = 0
        for b, r in zip(buyers, responses):
            if r.status_code == 201:
                won += 1
                o = assert_order(jbody(r))
                assert o["promo_code"] == code["code"] and o["discount"] == D("1.00"), o
                assert_cart(get_cart(api, b["token"]), lines=[])
            else:
                assert_cart(get_cart(api, b["token"]), lines=[(p["id"], 1)], promo_code=code["code"], applies=False)
                assert_status(api.delete("/api/v1/cart", token=b["token"]), 204)
        assert product_stock(api, p["id"]) == stock - won
    assert_check_clean()
    observe(f"checkout: 10 checkouts racing their code's DELETE, 3 rounds: {dict(seen)}")
