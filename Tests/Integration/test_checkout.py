"""Issue 10, Checkout: POST /api/v1/cart/checkout's 201 and every error (409 cart_empty,
insufficient_stock, promo_code_invalid/exhausted/not_applicable; 422 body and key; 401 is in
test_carts.py), "on any failure nothing changes", Idempotency-Key, and the order from a checkout as
an ordinary order (listed, processed by the worker, cancelled: stock and redemption given back).

404 product_not_found needs a product deleted between the checkout's read of the cart lines and its
lock of the product rows (a DELETE removes the product from every cart in its own transaction):
test_product_delete_racing_checkout races the two and accepts each outcome the contract allows.
"""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from stockroom_kit.client import (
    ANY_FIELD,
    CHECKOUT,
    ORDERS,
    Api,
    amounts,
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
    order_body,
    order_path,
    param_id,
    place_order,
    product_stock,
    promo_body,
    promo_code_path,
    replayed,
    wait_order_status,
)
from stockroom_kit.plugin import observe

D = Decimal
PRODUCTS = "/api/v1/products"
RACE_TIMEOUT = 30


def _key():
    return "checkout-" + uuid.uuid4().hex


def _own_orders(api, token):
    body = assert_status(api.get(ORDERS, token=token, params={"limit": 100}), 200)
    assert body["next_after"] is None
    return body["items"]


# ---------------------------------------------------------------- 201


def test_checkout_creates_the_order_and_empties_the_cart(api, admin_api, make_product, make_promo_code, new_user):
    p1 = make_product(price=D("19.99"), stock=10)
    p2 = make_product(price=D("0.10"), stock=10)
    code = make_promo_code(kind="amount", value=D("3.00"))
    buyer = new_user("co")
    cart = fill_cart(api, buyer["token"], (p2["id"], 3), (p1["id"], 2), code=code["code"])
    assert amounts(cart) == {"subtotal": D("40.28"), "discount": D("3.00"), "delivery": 0, "tax": 0,
                             "total": D("37.28")}, cart

    r = checkout(api, buyer["token"])
    o = assert_order(assert_status(r, 201), user_id=buyer["user"]["id"], status="pending")
    assert urlparse(r.headers.get("Location", "")).path == order_path(o["id"]), describe(r)
    assert not replayed(r)
    assert o["items"] == cart["items"], o
    assert amounts(o) == amounts(cart) and o["promo_code"] == code["code"], o
    # the cart: no lines, no code
    assert_cart(get_cart(api, buyer["token"]), lines=[], promo_code=None, applies=False)
    assert product_stock(api, p1["id"]) == 8 and product_stock(api, p2["id"]) == 7
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 1
    # an ordinary order: readable, listed, processed by the worker
    assert_same_order(assert_order(assert_status(api.get(order_path(o["id"]), token=buyer["token"]), 200)), o)
    assert [x["id"] for x in _own_orders(api, buyer["token"])] == [o["id"]]
    processed = wait_order_status(api, o["id"], "processed", token=buyer["token"], timeout=20)
    assert amounts(processed) == amounts(o) and processed["promo_code"] == code["code"]
    # and a second checkout has nothing to order
    assert_error(checkout(api, buyer["token"]), 409, "cart_empty")


@pytest.mark.parametrize(
    "kw",
    [{}, {"json": {}}, {"data": b"", "headers": {"Content-Type": "application/json"}},
     {"data": b"  {  }  ", "headers": {"Content-Type": "application/json; charset=utf-8"}}],
    ids=["no body", "{}", "empty body with content type", "{} with spaces and charset"],
)
def test_checkout_takes_no_body_or_an_empty_object(api, make_product, new_user, kw):
    p = make_product(stock=5)
    buyer = new_user("cobody")
    fill_cart(api, buyer["token"], (p["id"], 1))
    r = api.post(CHECKOUT, token=buyer["token"], **kw)
    assert_order(assert_status(r, 201))
    assert product_stock(api, p["id"]) == 4


@pytest.mark.parametrize(
    "body",
    [{"items": []}, {"promo_code": "X"}, {"product_id": 1, "quantity": 1}, {"x": None}],
    ids=param_id,
)
def test_checkout_with_a_field_is_422_and_changes_nothing(api, make_product, new_user, body):
    p = make_product(stock=5)
    buyer = new_user("co422")
    fill_cart(api, buyer["token"], (p["id"], 2))
    before = get_cart(api, buyer["token"])
    assert_error(checkout(api, buyer["token"], json=body), 422, "validation_failed", field=ANY_FIELD)
    assert get_cart(api, buyer["token"]) == before
    assert product_stock(api, p["id"]) == 5


@pytest.mark.parametrize("body", [[], "x", 1, None], ids=param_id)
def test_checkout_body_not_an_object_is_422(api, make_product, new_user, body):
    p = make_product(stock=5)
    buyer = new_user("co422b")
    fill_cart(api, buyer["token"], (p["id"], 1))
    assert_error(checkout(api, buyer["token"], json=body), 422, "validation_failed")
    assert product_stock(api, p["id"]) == 5 and cart_lines(get_cart(api, buyer["token"])) == [(p["id"], 1)]


def test_checkout_invalid_json_is_400_and_wrong_type_415(api, make_product, new_user):
    p = make_product(stock=5)
    buyer = new_user("co400")
    fill_cart(api, buyer["token"], (p["id"], 1))
    assert_error(api.post(CHECKOUT, token=buyer["token"], data=b"{", headers={"Content-Type": "application/json"}),
                 400, "invalid_json")
    assert_error(api.post(CHECKOUT, token=buyer["token"], data=b"{}", headers={"Content-Type": "text/plain"}),
                 415, "unsupported_media_type")
    assert product_stock(api, p["id"]) == 5 and cart_lines(get_cart(api, buyer["token"])) == [(p["id"], 1)]


# ---------------------------------------------------------------- 409 cart_empty


def test_empty_cart_is_409(api, make_promo_code, new_user):
    buyer = new_user("coempty")
    assert_error(checkout(api, buyer["token"]), 409, "cart_empty")
    # a cart with a code and no lines is empty too; the code stays
    code = make_promo_code()
    fill_cart(api, buyer["token"], code=code["code"])
    assert_error(checkout(api, buyer["token"]), 409, "cart_empty")
    assert_cart(get_cart(api, buyer["token"]), lines=[], promo_code=code["code"])
    assert _own_orders(api, buyer["token"]) == []


# ---------------------------------------------------------------- 409 insufficient_stock


def _lower_stock(admin_api, p, stock):
    r = admin_api.put(f"{PRODUCTS}/{p['id']}", json={"name": p["name"], "price": p["price"], "stock": stock})
    assert_status(r, 200)


def test_insufficient_stock_is_409_and_changes_nothing(api, admin_api, make_product, make_promo_code, new_user):
    a = make_product(price=D("5.00"), stock=10)
    b = make_product(price=D("5.00"), stock=10)
    c = make_product(price=D("5.00"), stock=10)
    code = make_promo_code(max_redemptions=5)
    buyer = new_user("costock")
    fill_cart(api, buyer["token"], (a["id"], 2), (b["id"], 5), (c["id"], 7), code=code["code"])
    before = get_cart(api, buyer["token"])
    # stock lowered after the lines were added (a cart's stock check is a hint; checkout decides);
    # b and c both short: the first in ascending id order is named
    _lower_stock(admin_api, b, 4)
    _lower_stock(admin_api, c, 1)
    err = assert_error(checkout(api, buyer["token"]), 409, "insufficient_stock")
    assert err.get("product_id") == b["id"] and err.get("available") == 4, err
    assert get_cart(api, buyer["token"]) == before
    assert [product_stock(api, x["id"]) for x in (a, b, c)] == [10, 4, 1]
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 0
    assert _own_orders(api, buyer["token"]) == []
    # the cart can be fixed and checked out
    _lower_stock(admin_api, b, 5)
    err = assert_error(checkout(api, buyer["token"]), 409, "insufficient_stock")
    assert err.get("product_id") == c["id"] and err.get("available") == 1, err
    assert_status(api.put(f"/api/v1/cart/items/{c['id']}", json={"quantity": 1}, token=buyer["token"]), 200)
    o = assert_order(assert_status(checkout(api, buyer["token"]), 201))
    assert cart_lines(o) == sorted([(a["id"], 2), (b["id"], 5), (c["id"], 1)]) and o["promo_code"] == code["code"]
    assert [product_stock(api, x["id"]) for x in (a, b, c)] == [8, 0, 0]


def test_exact_stock_can_be_checked_out(api, make_product, new_user):
    p = make_product(stock=3)
    buyer = new_user("coexact")
    fill_cart(api, buyer["token"], (p["id"], 3))
    assert_order(assert_status(checkout(api, buyer["token"]), 201))
    assert product_stock(api, p["id"]) == 0


# ---------------------------------------------------------------- 409 promo code errors


@pytest.mark.parametrize(
    "state,code_error",
    [
        ("deleted", "promo_code_invalid"),
        ("ended", "promo_code_invalid"),
        ("not started", "promo_code_invalid"),
        ("exhausted", "promo_code_exhausted"),
        ("exhausted for user", "promo_code_exhausted"),
        ("below minimum", "promo_code_not_applicable"),
    ],
)
def test_promo_code_errors_change_nothing(api, admin_api, make_product, make_promo_code, new_user, state, code_error):
    p = make_product(price=D("10.00"), stock=20)
    code = make_promo_code(kind="amount", value=D("1.00"), max_redemptions=2, max_per_user=1)
    buyer = new_user("copc")
    fill_cart(api, buyer["token"], (p["id"], 2), code=code["code"])
    body = promo_body(code=code["code"], kind="amount", value=D("1.00"), max_redemptions=2, max_per_user=1)
    if state == "deleted":
        assert_status(admin_api.delete(promo_code_path(code["id"])), 204)
    elif state in ("ended", "not started", "below minimum"):
        extra = {"ended": {"ends_at": "2020-01-01T00:00:00Z"}, "not started": {"starts_at": "2099-01-01T00:00:00Z"},
                 "below minimum": {"min_subtotal": D("20.01")}}[state]
        assert_status(admin_api.put(promo_code_path(code["id"]), json={**body, **extra}), 200)
    elif state == "exhausted":
        for _ in range(2):
            other = new_user("copco")
            assert_status(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]},
                                      token=other["token"]), 201)
    else:
        assert_status(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]},
                                  token=buyer["token"]), 201)
    before = get_cart(api, buyer["token"])
    assert before["promo_code"] == code["code"] and before["promo_code_applies"] is False, before
    stock = product_stock(api, p["id"])
    orders = _own_orders(api, buyer["token"])
    redemptions = None if state == "deleted" else get_promo_code(admin_api, code["id"])["redemptions"]
    key = _key()

    assert_error(checkout(api, buyer["token"], key=key), 409, code_error)
    assert get_cart(api, buyer["token"]) == before
    assert product_stock(api, p["id"]) == stock
    # No order more, none changed (the worker may move an earlier one from pending to processed).
    after = _own_orders(api, buyer["token"])
    assert [o["id"] for o in after] == [o["id"] for o in orders], after
    for later, first in zip(after, orders):
        assert_same_order(later, first)
    if redemptions is not None:
        assert get_promo_code(admin_api, code["id"])["redemptions"] == redemptions
    # without the code, the same cart (and the same key: nothing was stored) checks out
    assert_status(api.delete("/api/v1/cart/promo-code", token=buyer["token"]), 200)
    r = checkout(api, buyer["token"], key=key)
    o = assert_order(assert_status(r, 201))
    assert not replayed(r) and o["promo_code"] is None and cart_lines(o) == [(p["id"], 2)], describe(r)


# ---------------------------------------------------------------- Idempotency-Key


def test_replay_answers_the_same_order(api, make_product, new_user):
    p = make_product(stock=10)
    buyer = new_user("coidem")
    fill_cart(api, buyer["token"], (p["id"], 2))
    key = _key()
    first = checkout(api, buyer["token"], key=key)
    o = assert_order(assert_status(first, 201))
    assert not replayed(first)
    # refill the cart: the same key still answers the first order and leaves the new cart alone
    fill_cart(api, buyer["token"], (p["id"], 3))
    for kw in ({}, {"json": {}}):
        again = checkout(api, buyer["token"], key=key, **kw)
        assert_same_order(assert_order(assert_status(again, 201)), o)
        assert replayed(again), describe(again)
        assert urlparse(again.headers.get("Location", "")).path == order_path(o["id"]), describe(again)
    assert cart_lines(get_cart(api, buyer["token"])) == [(p["id"], 3)]
    assert product_stock(api, p["id"]) == 8
    # another key is a new checkout
    o2 = assert_order(assert_status(checkout(api, buyer["token"], key=_key()), 201))
    assert o2["id"] != o["id"] and cart_lines(o2) == [(p["id"], 3)]
    assert product_stock(api, p["id"]) == 5


def test_key_used_by_orders_is_reused_for_checkout_and_back(api, make_product, new_user):
    p = make_product(stock=10)
    buyer = new_user("coreuse")
    key = _key()
    assert_status(place_order(api, order_body((p["id"], 1)), token=buyer["token"], key=key), 201)
    fill_cart(api, buyer["token"], (p["id"], 2))
    assert_error(checkout(api, buyer["token"], key=key), 422, "idempotency_key_reused")
    assert cart_lines(get_cart(api, buyer["token"])) == [(p["id"], 2)]
    assert product_stock(api, p["id"]) == 9
    key2 = _key()
    assert_status(checkout(api, buyer["token"], key=key2), 201)
    assert_error(place_order(api, order_body((p["id"], 2)), token=buyer["token"], key=key2), 422,
                 "idempotency_key_reused")
    # a checkout with a body is another request than one without
    fill_cart(api, buyer["token"], (p["id"], 1))
    assert_error(checkout(api, buyer["token"], key=key2, json={"x": 1}), 422,
                 {"validation_failed", "idempotency_key_reused"})
    assert product_stock(api, p["id"]) == 7


def test_failed_checkout_stores_no_key(api, make_product, new_user):
    p = make_product(stock=10)
    buyer = new_user("cofail")
    key = _key()
    assert_error(checkout(api, buyer["token"], key=key), 409, "cart_empty")
    fill_cart(api, buyer["token"], (p["id"], 1))
    r = checkout(api, buyer["token"], key=key)
    assert_order(assert_status(r, 201))
    assert not replayed(r), describe(r)


def test_checkout_keys_are_per_user(api, make_product, new_user):
    p = make_product(stock=10)
    a, b = new_user("cokeya"), new_user("cokeyb")
    key = _key()
    fill_cart(api, a["token"], (p["id"], 1))
    fill_cart(api, b["token"], (p["id"], 2))
    oa = assert_order(assert_status(checkout(api, a["token"], key=key), 201), user_id=a["user"]["id"])
    rb = checkout(api, b["token"], key=key)
    ob = assert_order(assert_status(rb, 201), user_id=b["user"]["id"])
    assert not replayed(rb) and oa["id"] != ob["id"] and cart_lines(ob) == [(p["id"], 2)]


@pytest.mark.parametrize("key", ["", "k" * 256, "has space"], ids=["empty", "256 chars", "space"])
def test_invalid_key_is_422(api, make_product, new_user, key):
    p = make_product(stock=10)
    buyer = new_user("cokey")
    fill_cart(api, buyer["token"], (p["id"], 1))
    assert_error(checkout(api, buyer["token"], key=key), 422, "validation_failed", field="Idempotency-Key")
    assert product_stock(api, p["id"]) == 10 and cart_lines(get_cart(api, buyer["token"])) == [(p["id"], 1)]


# ---------------------------------------------------------------- cancel


def test_cancel_gives_back_stock_and_redemption(api, admin_api, make_product, make_promo_code, new_user):
    p = make_product(price=D("10.00"), stock=5)
    code = make_promo_code(kind="percent", value=D("10.00"), max_redemptions=1)
    buyer, other = new_user("cocan"), new_user("cocan2")
    fill_cart(api, buyer["token"], (p["id"], 3), code=code["code"])
    o = assert_order(assert_status(checkout(api, buyer["token"]), 201))
    assert product_stock(api, p["id"]) == 2
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 1
    fill_cart(api, other["token"], (p["id"], 2))
    assert_error(api.put("/api/v1/cart/promo-code", json={"code": code["code"]}, token=other["token"]), 409,
                 "promo_code_exhausted")

    c = assert_order(assert_status(api.post(cancel_path(o["id"]), token=buyer["token"]), 200), status="cancelled")
    assert amounts(c) == amounts(o) and c["promo_code"] == code["code"], c  # the order keeps its pricing
    assert product_stock(api, p["id"]) == 5
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 0
    assert_error(api.post(cancel_path(o["id"]), token=buyer["token"]), 409, "order_not_cancellable")
    # the code can be used again
    fill_cart(api, other["token"], code=code["code"])
    o2 = assert_order(assert_status(checkout(api, other["token"]), 201))
    assert o2["promo_code"] == code["code"] and o2["discount"] == D("2.00"), o2
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 1
    assert product_stock(api, p["id"]) == 3


def test_cancel_of_a_processed_checkout_order(api, admin_api, make_product, make_promo_code, new_user):
    p = make_product(stock=5)
    code = make_promo_code(max_redemptions=1)
    buyer = new_user("cocanp")
    fill_cart(api, buyer["token"], (p["id"], 1), code=code["code"])
    o = assert_order(assert_status(checkout(api, buyer["token"]), 201))
    wait_order_status(api, o["id"], "processed", token=buyer["token"], timeout=20)
    assert_order(assert_status(api.post(cancel_path(o["id"]), token=admin_api.token), 200), status="cancelled")
    assert product_stock(api, p["id"]) == 5
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 0


# ---------------------------------------------------------------- a product deleted while a checkout runs


def test_product_delete_racing_checkout(url, api, admin_api, make_product, new_user):
    """Either the checkout ordered the product (then the delete found no cart holding it), or the
    delete came first (the line is gone; the checkout ordered the rest or found the cart empty), or
    the delete came between the checkout's read of the lines and its product locks (404
    product_not_found naming it; nothing else changed: the rest stays in the cart, no stock taken).
    Never a 5xx, never an order line of a product the cart lost, never stock taken for nothing."""
    rounds = 6
    seen = Counter()
    buyers = [new_user("codel") for _ in range(rounds)]
    for i, buyer in enumerate(buyers):
        gone = make_product(price=D("1.00"), stock=10)
        kept = make_product(price=D("2.00"), stock=10)
        lines = [(gone["id"], 2)] + ([(kept["id"], 1)] if i % 2 else [])
        fill_cart(api, buyer["token"], *lines)
        clients = [Api(url, buyer["token"]), Api(url, admin_api.token)]
        for c in clients:
            c.get("/health/live")
        barrier = threading.Barrier(2)

        def go(k):
            barrier.wait(timeout=10)
            if k == 0:
                return checkout(clients[0], timeout=RACE_TIMEOUT)
            return clients[1].delete(f"{PRODUCTS}/{gone['id']}", timeout=RACE_TIMEOUT)

        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                co, dl = pool.map(go, range(2))
        finally:
            for c in clients:
                c.close()
        assert_status(dl, 204)
        rest = [x for x in lines if x[0] != gone["id"]]
        if co.status_code == 201:
            o = assert_order(jbody(co))
            assert cart_lines(o) in (sorted(lines), rest), o
            seen["201 with the product" if cart_lines(o) == sorted(lines) else "201 without it"] += 1
            assert_cart(get_cart(api, buyer["token"]), lines=[])
            if i % 2:
                assert product_stock(api, kept["id"]) == 9
        elif co.status_code == 404:
            err = assert_error(co, 404, "product_not_found")
            assert err.get("product_id") == gone["id"], describe(co)
            seen["404 product_not_found"] += 1
            assert_cart(get_cart(api, buyer["token"]), lines=rest)
            assert product_stock(api, kept["id"]) == 10
        else:
            assert i % 2 == 0, describe(co)  # only a cart that held nothing else can be empty
            assert_error(co, 409, "cart_empty")
            seen["409 cart_empty"] += 1
            assert_cart(get_cart(api, buyer["token"]), lines=[])
        mine = [o["id"] for o in list_all_orders(api, buyer["token"])]
        assert mine == ([jbody(co)["id"]] if co.status_code == 201 else []), mine
    observe(f"checkout racing a product delete, {rounds} rounds: {dict(seen)}")


# ---------------------------------------------------------------- totals beyond DECIMAL(12,2)


def test_checkout_beyond_the_largest_total_is_422_and_changes_nothing(api, make_product, new_user):
    """The orders rule (DECISIONS.md): a subtotal or total above 9999999999.99 is 422 field "items";
    the cart (whose amounts are computed, not stored) may show it, checkout refuses it."""
    big = make_product(price=D("99999999.99"), stock=1000)
    buyer = new_user("cobig")
    cart = fill_cart(api, buyer["token"], (big["id"], 1000))
    assert cart["subtotal"] == D("99999999990.00"), cart
    assert_error(checkout(api, buyer["token"]), 422, "validation_failed", field="items")
    assert get_cart(api, buyer["token"]) == cart
    assert product_stock(api, big["id"]) == 1000 and _own_orders(api, buyer["token"]) == []
    # just inside: 100 x 99999999.99 = 9999999999.00
    assert_status(api.put(f"/api/v1/cart/items/{big['id']}", json={"quantity": 100}, token=buyer["token"]), 200)
    o = assert_order(assert_status(checkout(api, buyer["token"]), 201))
    assert o["total"] == D("9999999999.00"), o
    assert product_stock(api, big["id"]) == 900


@pytest.mark.parametrize("value", [None, 5, [], {}, True], ids=param_id)
def test_direct_order_promo_code_must_be_a_string(api, make_product, new_user, value):
    """POST /orders' optional promo_code, when sent, is a string: anything else (null too) is a 422
    naming the field, and nothing is ordered."""
    buyer = new_user("copty")
    p = make_product(stock=5)
    r = place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": value}, token=buyer["token"])
    assert_error(r, 422, "validation_failed", field="promo_code")
    assert product_stock(api, p["id"]) == 5
    assert _own_orders(api, buyer["token"]) == []
