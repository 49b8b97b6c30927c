"""Contract: Orders (issue 3) — every status and error code of POST/GET /api/v1/orders and cancel.

Decisions followed where the contract is silent: /tmp/stockroom-orders.md (field names of the 422s,
product_id/available of the 404/409, the order JSON, cancel of processed orders).
"""

from decimal import Decimal
from urllib.parse import urlparse

import pytest

from stockroom_kit.client import (
    ORDERS,
    Api,
    RawNumber,
    assert_error,
    assert_order,
    assert_recent,
    assert_same_order,
    assert_status,
    assert_unauthorized,
    cancel_path,
    describe,
    login_token,
    order_body,
    order_path,
    param_id,
    parse_ts,
    place_order,
    product_stock,
    register,
    unique_name,
    wait_order_status,
)

MISSING_ID = 2_000_000_000  # a positive id no test creates
PRODUCTS = "/api/v1/products"


@pytest.fixture
def buyer(new_user):
    return new_user("buyer")


@pytest.fixture(scope="module")
def refused_buyer(url):
    """One customer for all the refused requests of this module: none of them may create an order,
    so its list stays empty (a registration per case would cost an argon2 hash each)."""
    client = Api(url)
    name = unique_name("refused")
    user = assert_status(register(client, name), 201)
    token = login_token(client, name)
    client.close()
    return {"username": name, "user": user, "token": token}


def _line(order, product_id):
    [line] = [item for item in order["items"] if item["product_id"] == product_id]
    return line


def _own_orders(api, token):
    body = assert_status(api.get(ORDERS, token=token, params={"limit": 100}), 200)
    assert body["next_after"] is None, body
    return body["items"]


# ---------------------------------------------------------------- create


def test_create_items_form(api, make_product, buyer):
    p1 = make_product(price=Decimal("19.99"), stock=10)
    p2 = make_product(price=Decimal("0.10"), stock=10)
    # lines sent in descending product id: the answer lists them ascending
    r = place_order(api, order_body((p2["id"], 3), (p1["id"], 3)), token=buyer["token"])
    o = assert_order(assert_status(r, 201), user_id=buyer["user"]["id"], status="pending")
    assert urlparse(r.headers.get("Location", "")).path == order_path(o["id"]), describe(r)
    assert o["items"] == [
        {"product_id": p1["id"], "name": p1["name"], "quantity": 3,
         "unit_price": Decimal("19.99"), "line_total": Decimal("59.97")},
        {"product_id": p2["id"], "name": p2["name"], "quantity": 3,
         "unit_price": Decimal("0.10"), "line_total": Decimal("0.30")},
    ], o
    assert o["total"] == Decimal("60.27"), o
    assert_recent(o["created_at"])
    assert product_stock(api, p1["id"]) == 7
    assert product_stock(api, p2["id"]) == 7
    assert_same_order(assert_order(assert_status(api.get(order_path(o["id"]), token=buyer["token"]), 200)), o)


def test_create_short_form(api, make_product, buyer):
    p = make_product(price=Decimal("0.10"), stock=5)
    r = place_order(api, {"product_id": p["id"], "quantity": 3}, token=buyer["token"])
    o = assert_order(assert_status(r, 201), user_id=buyer["user"]["id"], status="pending")
    assert urlparse(r.headers.get("Location", "")).path == order_path(o["id"]), describe(r)
    assert o["items"] == [
        {"product_id": p["id"], "name": p["name"], "quantity": 3,
         "unit_price": Decimal("0.10"), "line_total": Decimal("0.30")}
    ]
    assert o["total"] == Decimal("0.30")
    assert product_stock(api, p["id"]) == 2


@pytest.mark.parametrize(
    "price,quantity,line_total",
    [
        ("19.99", 3, "59.97"),
        ("0.10", 3, "0.30"),
        ("0.01", 1000, "10.00"),
        ("0.00", 2, "0.00"),
        ("1.10", 7, "7.70"),
        ("99999999.99", 1, "99999999.99"),
        ("9999999.99", 1000, "9999999990.00"),  # just under the DECIMAL(12,2) maximum
    ],
)
def test_totals_are_exact(api, make_product, customer_token, price, quantity, line_total):
    p = make_product(price=RawNumber(price), stock=1000)
    o = assert_order(assert_status(place_order(api, order_body((p["id"], quantity)), token=customer_token), 201))
    line = _line(o, p["id"])
    assert line["unit_price"] == Decimal(price) and line["quantity"] == quantity
    assert line["line_total"] == Decimal(line_total)
    assert o["total"] == Decimal(line_total)
    assert product_stock(api, p["id"]) == 1000 - quantity


def test_fifty_items_accepted(api, make_product, customer_token):
    products = [make_product(price=Decimal("0.10"), stock=2) for _ in range(50)]
    r = place_order(api, order_body(*[(p["id"], 1) for p in products]), token=customer_token)
    o = assert_order(assert_status(r, 201))
    assert [i["product_id"] for i in o["items"]] == [p["id"] for p in products]
    assert o["total"] == Decimal("5.00")
    assert product_stock(api, products[0]["id"]) == 1 and product_stock(api, products[-1]["id"]) == 1


# ---------------------------------------------------------------- 422


# Each case: body built from two live product ids (a, b), the expected error.field.
INVALID_BODIES = [
    # client prices / totals: not part of the shape
    ("item price", lambda a, b: {"items": [{"product_id": a, "quantity": 1, "price": 1}]}, "items[0].price"),
    ("item unit_price", lambda a, b: {"items": [{"product_id": a, "quantity": 1, "unit_price": RawNumber("0.01")}]},
     "items[0].unit_price"),
    ("item line_total", lambda a, b: {"items": [{"product_id": a, "quantity": 1, "line_total": 1}]},
     "items[0].line_total"),
    ("second item price", lambda a, b: {"items": [{"product_id": a, "quantity": 1},
                                                  {"product_id": b, "quantity": 1, "price": 0}]}, "items[1].price"),
    ("order total", lambda a, b: {"items": [{"product_id": a, "quantity": 1}], "total": 1}, "total"),
    ("short price", lambda a, b: {"product_id": a, "quantity": 1, "price": 1}, "price"),
    ("short unit_price", lambda a, b: {"product_id": a, "quantity": 1, "unit_price": 1}, "unit_price"),
    # unknown fields
    ("unknown top", lambda a, b: {"items": [{"product_id": a, "quantity": 1}], "note": "x"}, "note"),
    ("unknown item key", lambda a, b: {"items": [{"product_id": a, "quantity": 1, "color": "red"}]}, "items[0].color"),
    ("unknown short", lambda a, b: {"product_id": a, "quantity": 1, "color": "red"}, "color"),
    # both forms
    ("both forms", lambda a, b: {"items": [{"product_id": a, "quantity": 1}], "product_id": b}, "items"),
    ("both forms + qty", lambda a, b: {"items": [{"product_id": a, "quantity": 1}], "product_id": b, "quantity": 1},
     "items"),
    # items itself
    ("items object", lambda a, b: {"items": {"product_id": a, "quantity": 1}}, "items"),
    ("items string", lambda a, b: {"items": "x"}, "items"),
    ("items null", lambda a, b: {"items": None}, "items"),
    ("items number", lambda a, b: {"items": 1}, "items"),
    ("items empty", lambda a, b: {"items": []}, "items"),
    ("51 items", lambda a, b: {"items": [{"product_id": a + i, "quantity": 1} for i in range(51)]}, "items"),
    ("same product twice", lambda a, b: {"items": [{"product_id": a, "quantity": 1},
                                                   {"product_id": a, "quantity": 2}]}, "items"),
    ("same product twice apart", lambda a, b: {"items": [{"product_id": a, "quantity": 1},
                                                         {"product_id": b, "quantity": 1},
                                                         {"product_id": a, "quantity": 1}]}, "items"),
    # an item that is not an object
    ("item number", lambda a, b: {"items": [5]}, "items[0]"),
    ("item null", lambda a, b: {"items": [None]}, "items[0]"),
    ("item array", lambda a, b: {"items": [[a, 1]]}, "items[0]"),
    ("second item string", lambda a, b: {"items": [{"product_id": a, "quantity": 1}, "x"]}, "items[1]"),
    # product_id
    ("pid 0", lambda a, b: order_body((0, 1)), "items[0].product_id"),
    ("pid -1", lambda a, b: order_body((-1, 1)), "items[0].product_id"),
    ("pid string", lambda a, b: order_body((str(a), 1)), "items[0].product_id"),
    ("pid fraction", lambda a, b: order_body((RawNumber("1.5"), 1)), "items[0].product_id"),
    ("pid null", lambda a, b: order_body((None, 1)), "items[0].product_id"),
    ("pid bool", lambda a, b: order_body((True, 1)), "items[0].product_id"),
    ("pid missing", lambda a, b: {"items": [{"quantity": 1}]}, "items[0].product_id"),
    ("second pid bad", lambda a, b: order_body((a, 1), (-5, 1)), "items[1].product_id"),
    ("short pid 0", lambda a, b: {"product_id": 0, "quantity": 1}, "product_id"),
    ("short pid string", lambda a, b: {"product_id": str(a), "quantity": 1}, "product_id"),
    ("short pid null", lambda a, b: {"product_id": None, "quantity": 1}, "product_id"),
    # quantity
    ("qty 0", lambda a, b: order_body((a, 0)), "items[0].quantity"),
    ("qty -1", lambda a, b: order_body((a, -1)), "items[0].quantity"),
    ("qty 1001", lambda a, b: order_body((a, 1001)), "items[0].quantity"),
    ("qty huge", lambda a, b: order_body((a, 2**64)), "items[0].quantity"),
    ("qty fraction", lambda a, b: order_body((a, RawNumber("1.5"))), "items[0].quantity"),
    ("qty string", lambda a, b: order_body((a, "1")), "items[0].quantity"),
    ("qty null", lambda a, b: order_body((a, None)), "items[0].quantity"),
    ("qty bool", lambda a, b: order_body((a, True)), "items[0].quantity"),
    ("qty missing", lambda a, b: {"items": [{"product_id": a}]}, "items[0].quantity"),
    ("second qty bad", lambda a, b: order_body((a, 1), (b, 1001)), "items[1].quantity"),
    ("short qty 0", lambda a, b: {"product_id": a, "quantity": 0}, "quantity"),
    ("short qty 1001", lambda a, b: {"product_id": a, "quantity": 1001}, "quantity"),
    ("short qty string", lambda a, b: {"product_id": a, "quantity": "2"}, "quantity"),
    ("short qty missing", lambda a, b: {"product_id": a}, "quantity"),
]


@pytest.mark.parametrize("case,make_body,field", INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
def test_invalid_body_is_422_and_changes_nothing(api, make_product, refused_buyer, case, make_body, field):
    a = make_product(stock=5)
    b = make_product(stock=5)
    r = place_order(api, make_body(a["id"], b["id"]), token=refused_buyer["token"])
    assert_error(r, 422, "validation_failed", field=field)
    assert product_stock(api, a["id"]) == 5 and product_stock(api, b["id"]) == 5
    assert _own_orders(api, refused_buyer["token"]) == []


@pytest.mark.parametrize("body", [{}, {"quantity": 1}], ids=param_id)
def test_no_product_named_is_422(api, refused_buyer, body):
    # neither form: the decisions do not say which field; either names what is missing
    err = assert_error(place_order(api, body, token=refused_buyer["token"]), 422, "validation_failed")
    assert err.get("field") in ("items", "product_id"), err


@pytest.mark.parametrize("body", [[], [{"product_id": 1, "quantity": 1}], "x", 5, None], ids=param_id)
def test_body_not_an_object_is_422(api, refused_buyer, body):
    assert_error(place_order(api, body, token=refused_buyer["token"]), 422, "validation_failed")


def test_line_total_over_decimal_12_2_is_422(api, make_product, refused_buyer):
    p = make_product(price=RawNumber("99999999.99"), stock=1000)
    r = place_order(api, order_body((p["id"], 1000)), token=refused_buyer["token"])  # 99 999 999 990.00
    assert_error(r, 422, "validation_failed", field="items")
    assert product_stock(api, p["id"]) == 1000
    assert _own_orders(api, refused_buyer["token"]) == []


def test_order_total_over_decimal_12_2_is_422(api, make_product, refused_buyer):
    big = make_product(price=RawNumber("99999999.99"), stock=1000)
    small = make_product(price=RawNumber("1.00"), stock=10)
    # 9 999 999 999.00 + 1.00: each line fits, the total does not
    r = place_order(api, order_body((big["id"], 100), (small["id"], 1)), token=refused_buyer["token"])
    assert_error(r, 422, "validation_failed", field="items")
    assert product_stock(api, big["id"]) == 1000 and product_stock(api, small["id"]) == 10
    assert _own_orders(api, refused_buyer["token"]) == []


def test_invalid_json_is_400(api, make_product, customer_token):
    p = make_product(stock=5)
    r = api.post(ORDERS, data=b'{"product_id": %d, "quantity": 1' % p["id"],
                 headers={"Content-Type": "application/json"}, token=customer_token)
    assert_error(r, 400, "invalid_json")
    assert product_stock(api, p["id"]) == 5


def test_wrong_content_type_is_415(api, make_product, customer_token):
    p = make_product(stock=5)
    r = api.post(ORDERS, data=b'{"product_id": %d, "quantity": 1}' % p["id"],
                 headers={"Content-Type": "text/plain"}, token=customer_token)
    assert_error(r, 415, "unsupported_media_type")
    assert product_stock(api, p["id"]) == 5


def test_oversized_body_is_413(api, customer_token):
    body = b'{"items": [' + b" " * 70_000 + b"]}"
    r = api.post(ORDERS, data=body, headers={"Content-Type": "application/json"}, token=customer_token)
    assert_error(r, 413, "payload_too_large")


# ---------------------------------------------------------------- 404 product_not_found


def test_unknown_product_is_404_and_changes_nothing(api, make_product, refused_buyer):
    live = make_product(stock=5)
    r = place_order(api, order_body((live["id"], 2), (MISSING_ID, 1)), token=refused_buyer["token"])
    err = assert_error(r, 404, "product_not_found")
    assert err.get("product_id") == MISSING_ID, err
    assert product_stock(api, live["id"]) == 5
    assert _own_orders(api, refused_buyer["token"]) == []


def test_unknown_product_short_form_is_404(api, refused_buyer):
    err = assert_error(place_order(api, {"product_id": MISSING_ID, "quantity": 1}, token=refused_buyer["token"]),
                       404, "product_not_found")
    assert err.get("product_id") == MISSING_ID, err


def test_deleted_product_is_404_and_changes_nothing(api, admin_api, make_product, refused_buyer):
    live = make_product(stock=5)
    gone = make_product(stock=5)
    assert_status(admin_api.delete(f"{PRODUCTS}/{gone['id']}"), 204)
    r = place_order(api, order_body((gone["id"], 1), (live["id"], 3)), token=refused_buyer["token"])
    err = assert_error(r, 404, "product_not_found")
    assert err.get("product_id") == gone["id"], err
    assert product_stock(api, live["id"]) == 5
    assert _own_orders(api, refused_buyer["token"]) == []


def test_first_missing_product_in_ascending_id_order(api, admin_api, make_product, refused_buyer):
    gone = make_product(stock=5)
    live = make_product(stock=5)
    assert_status(admin_api.delete(f"{PRODUCTS}/{gone['id']}"), 204)
    # the unknown (higher) id is listed first; the deleted (lower) id is the one named
    r = place_order(api, order_body((MISSING_ID, 1), (live["id"], 1), (gone["id"], 1)), token=refused_buyer["token"])
    err = assert_error(r, 404, "product_not_found")
    assert err.get("product_id") == gone["id"], err
    assert product_stock(api, live["id"]) == 5


# ---------------------------------------------------------------- 409 insufficient_stock


def test_insufficient_stock_is_409_and_changes_nothing(api, make_product, refused_buyer):
    plenty = make_product(stock=5)
    short = make_product(stock=2)
    r = place_order(api, order_body((plenty["id"], 3), (short["id"], 3)), token=refused_buyer["token"])
    err = assert_error(r, 409, "insufficient_stock")
    assert err.get("product_id") == short["id"] and err.get("available") == 2, err
    assert type(err["available"]) is int
    assert product_stock(api, plenty["id"]) == 5 and product_stock(api, short["id"]) == 2
    assert _own_orders(api, refused_buyer["token"]) == []


def test_first_short_product_in_ascending_id_order(api, make_product, refused_buyer):
    a = make_product(stock=1)
    b = make_product(stock=0)
    r = place_order(api, order_body((b["id"], 2), (a["id"], 2)), token=refused_buyer["token"])
    err = assert_error(r, 409, "insufficient_stock")
    assert err.get("product_id") == a["id"] and err.get("available") == 1, err
    assert product_stock(api, a["id"]) == 1 and product_stock(api, b["id"]) == 0


def test_out_of_stock_short_form(api, make_product, refused_buyer):
    p = make_product(stock=0)
    err = assert_error(place_order(api, {"product_id": p["id"], "quantity": 1}, token=refused_buyer["token"]),
                       409, "insufficient_stock")
    assert err.get("product_id") == p["id"] and err.get("available") == 0, err


def test_exact_stock_can_be_bought(api, make_product, customer_token):
    p = make_product(stock=3)
    assert_status(place_order(api, order_body((p["id"], 3)), token=customer_token), 201)
    assert product_stock(api, p["id"]) == 0
    err = assert_error(place_order(api, order_body((p["id"], 1)), token=customer_token), 409, "insufficient_stock")
    assert err.get("available") == 0


# ---------------------------------------------------------------- 401 / 405 / bad paths


def test_orders_need_a_token(api, make_product, customer_token):
    p = make_product(stock=5)
    o = assert_status(place_order(api, order_body((p["id"], 1)), token=customer_token), 201)
    assert_unauthorized(place_order(api, order_body((p["id"], 1))))
    assert_unauthorized(api.get(ORDERS))
    assert_unauthorized(api.get(order_path(o["id"])))
    assert_unauthorized(api.post(cancel_path(o["id"])))
    bad = "0" * 64
    assert_unauthorized(place_order(api, order_body((p["id"], 1)), token=bad))
    assert_unauthorized(api.get(ORDERS, token=bad))
    assert_unauthorized(api.get(order_path(o["id"]), token=bad))
    assert_unauthorized(api.post(cancel_path(o["id"]), token=bad))
    assert product_stock(api, p["id"]) == 4
    assert assert_status(api.get(order_path(o["id"]), token=customer_token), 200)["status"] != "cancelled"


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("PUT", ORDERS, {"GET", "POST"}),
        ("DELETE", ORDERS, {"GET", "POST"}),
        ("DELETE", order_path(1), {"GET"}),
        ("PUT", order_path(1), {"GET"}),
        ("GET", cancel_path(1), {"POST"}),
    ],
)
def test_wrong_method_is_405(api, customer_token, method, path, allowed):
    r = api.request(method, path, token=customer_token)
    assert_error(r, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, describe(r)


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "99999999999999999999999"])
def test_non_positive_integer_order_id_is_404(api, customer_token, raw):
    assert_error(api.get(order_path(raw), token=customer_token), 404, {"not_found", "order_not_found"})
    assert_error(api.post(cancel_path(raw), token=customer_token), 404, {"not_found", "order_not_found"})


# ---------------------------------------------------------------- list


def test_list_own_orders_and_admin_sees_all(api, make_product, new_user, admin_token):
    p = make_product(stock=100)
    alice, bob = new_user("alice"), new_user("bob")
    mine = [assert_status(place_order(api, order_body((p["id"], 1)), token=alice["token"]), 201) for _ in range(3)]
    theirs = assert_status(place_order(api, order_body((p["id"], 2)), token=bob["token"]), 201)

    listed = _own_orders(api, alice["token"])
    assert [o["id"] for o in listed] == [o["id"] for o in mine]
    for got, created in zip(listed, mine):
        assert_same_order(assert_order(got, user_id=alice["user"]["id"]), created)
    assert [o["id"] for o in _own_orders(api, bob["token"])] == [theirs["id"]]

    first = mine[0]["id"]
    body = assert_status(api.get(ORDERS, token=admin_token, params={"after": first - 1, "limit": 100}), 200)
    ids = [o["id"] for o in body["items"]]
    assert ids == sorted(set(ids)), ids
    assert {o["id"] for o in mine} | {theirs["id"]} <= set(ids), ids
    users = {o["user_id"] for o in body["items"] if o["id"] in {m["id"] for m in mine} | {theirs["id"]}}
    assert users == {alice["user"]["id"], bob["user"]["id"]}
    for o in body["items"]:
        assert_order(o)


def test_list_pagination(api, make_product, buyer):
    p = make_product(stock=100)
    created = [assert_status(place_order(api, order_body((p["id"], 1)), token=buyer["token"]), 201)
               for _ in range(5)]
    ids = [o["id"] for o in created]
    assert ids == sorted(ids)

    seen, after, pages = [], 0, 0
    while True:
        body = assert_status(api.get(ORDERS, token=buyer["token"], params={"limit": 2, "after": after}), 200)
        assert set(body) == {"items", "next_after"}, body
        assert len(body["items"]) <= 2
        seen.extend(assert_order(o, user_id=buyer["user"]["id"])["id"] for o in body["items"])
        pages += 1
        assert pages < 10
        if body["next_after"] is None:
            break
        assert len(body["items"]) == 2 and body["next_after"] == body["items"][-1]["id"], body
        after = body["next_after"]
    assert seen == ids
    assert pages == 3

    tail = assert_status(api.get(ORDERS, token=buyer["token"], params={"after": ids[2]}), 200)
    assert [o["id"] for o in tail["items"]] == ids[3:] and tail["next_after"] is None
    empty = assert_status(api.get(ORDERS, token=buyer["token"], params={"after": ids[-1]}), 200)
    assert empty == {"items": [], "next_after": None}


def test_default_page_size_is_20(api, make_product, buyer):
    p = make_product(stock=100)
    ids = [assert_status(place_order(api, order_body((p["id"], 1)), token=buyer["token"]), 201)["id"]
           for _ in range(21)]
    body = assert_status(api.get(ORDERS, token=buyer["token"]), 200)
    assert [o["id"] for o in body["items"]] == ids[:20]
    assert body["next_after"] == ids[19]


def test_new_user_has_no_orders(api, buyer):
    assert assert_status(api.get(ORDERS, token=buyer["token"]), 200) == {"items": [], "next_after": None}


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"after": "-1"}, "after"),
        ({"after": "abc"}, "after"),
    ],
)
def test_bad_pagination_params_422(api, customer_token, params, field):
    assert_error(api.get(ORDERS, token=customer_token, params=params), 422, "validation_failed", field=field)


# ---------------------------------------------------------------- get one


def test_get_one_owner_admin_other(api, make_product, new_user, admin_token):
    p = make_product(stock=5)
    owner, other = new_user("owner"), new_user("other")
    o = assert_status(place_order(api, order_body((p["id"], 2)), token=owner["token"]), 201)
    got = assert_order(assert_status(api.get(order_path(o["id"]), token=owner["token"]), 200))
    assert_same_order(got, o)
    err = assert_error(api.get(order_path(o["id"]), token=other["token"]), 404, "order_not_found")
    assert set(err) == {"code", "message"}, err
    by_admin = assert_order(assert_status(api.get(order_path(o["id"]), token=admin_token), 200))
    assert_same_order(by_admin, o)
    assert by_admin["user_id"] == owner["user"]["id"]
    assert_error(api.get(order_path(MISSING_ID), token=owner["token"]), 404, "order_not_found")
    assert_error(api.get(order_path(MISSING_ID), token=admin_token), 404, "order_not_found")


def test_order_keeps_name_and_price_as_sold(api, admin_api, make_product, customer_token, admin_token):
    name = unique_name("sold")
    p = make_product(name=name, price=Decimal("5.00"), stock=10)
    o = assert_status(place_order(api, order_body((p["id"], 2)), token=customer_token), 201)
    expected_line = {"product_id": p["id"], "name": name, "quantity": 2,
                     "unit_price": Decimal("5.00"), "line_total": Decimal("10.00")}
    assert o["items"] == [expected_line]

    r = admin_api.put(f"{PRODUCTS}/{p['id']}", json={"name": unique_name("renamed"), "price": Decimal("7.50"),
                                                     "stock": 8})
    assert_status(r, 200)
    again = assert_order(assert_status(api.get(order_path(o["id"]), token=customer_token), 200))
    assert again["items"] == [expected_line] and again["total"] == Decimal("10.00")

    assert_status(admin_api.delete(f"{PRODUCTS}/{p['id']}"), 204)
    after_delete = assert_order(assert_status(api.get(order_path(o["id"]), token=customer_token), 200))
    assert after_delete["items"] == [expected_line] and after_delete["total"] == Decimal("10.00")
    assert_same_order(after_delete, again)
    by_admin = assert_order(assert_status(api.get(order_path(o["id"]), token=admin_token), 200))
    assert by_admin["items"] == [expected_line]
    listed = assert_status(api.get(ORDERS, token=customer_token, params={"after": o["id"] - 1, "limit": 1}), 200)
    assert listed["items"][0]["id"] == o["id"] and listed["items"][0]["items"] == [expected_line]


# ---------------------------------------------------------------- cancel


def test_cancel_gives_stock_back(api, make_product, buyer):
    a = make_product(price=Decimal("19.99"), stock=10)
    b = make_product(price=Decimal("0.10"), stock=10)
    o = assert_status(place_order(api, order_body((a["id"], 3), (b["id"], 4)), token=buyer["token"]), 201)
    assert product_stock(api, a["id"]) == 7 and product_stock(api, b["id"]) == 6

    r = api.post(cancel_path(o["id"]), token=buyer["token"])  # no body
    c = assert_order(assert_status(r, 200), user_id=buyer["user"]["id"], status="cancelled")
    assert c["id"] == o["id"] and c["items"] == o["items"] and c["total"] == o["total"]
    assert c["created_at"] == o["created_at"]
    assert parse_ts(c["updated_at"]) >= parse_ts(o["updated_at"])
    assert product_stock(api, a["id"]) == 10 and product_stock(api, b["id"]) == 10
    got = assert_status(api.get(order_path(o["id"]), token=buyer["token"]), 200)
    assert got == c

    again = api.post(cancel_path(o["id"]), token=buyer["token"])
    assert_error(again, 409, "order_not_cancellable")
    assert product_stock(api, a["id"]) == 10 and product_stock(api, b["id"]) == 10
    assert assert_status(api.get(order_path(o["id"]), token=buyer["token"]), 200) == c


def test_cancel_with_empty_json_body(api, make_product, buyer):
    p = make_product(stock=3)
    o = assert_status(place_order(api, order_body((p["id"], 3)), token=buyer["token"]), 201)
    r = api.post(cancel_path(o["id"]), json={}, token=buyer["token"])
    assert_order(assert_status(r, 200), status="cancelled")
    assert product_stock(api, p["id"]) == 3


def test_cancel_someone_elses_order_is_404(api, make_product, new_user):
    p = make_product(stock=10)
    owner, other = new_user("owner"), new_user("other")
    o = assert_status(place_order(api, order_body((p["id"], 2)), token=owner["token"]), 201)
    assert_error(api.post(cancel_path(o["id"]), token=other["token"]), 404, "order_not_found")
    assert product_stock(api, p["id"]) == 8
    assert assert_status(api.get(order_path(o["id"]), token=owner["token"]), 200)["status"] in ("pending", "processed")


def test_cancel_unknown_order_is_404(api, customer_token, admin_token):
    assert_error(api.post(cancel_path(MISSING_ID), token=customer_token), 404, "order_not_found")
    assert_error(api.post(cancel_path(MISSING_ID), token=admin_token), 404, "order_not_found")


def test_admin_can_cancel(api, make_product, buyer, admin_token):
    p = make_product(stock=10)
    o = assert_status(place_order(api, order_body((p["id"], 4)), token=buyer["token"]), 201)
    c = assert_order(assert_status(api.post(cancel_path(o["id"]), token=admin_token), 200), status="cancelled")
    assert c["user_id"] == buyer["user"]["id"]
    assert product_stock(api, p["id"]) == 10
    assert_error(api.post(cancel_path(o["id"]), token=buyer["token"]), 409, "order_not_cancellable")


def test_cancel_a_processed_order(api, make_product, buyer):
    p = make_product(stock=10)
    o = assert_status(place_order(api, order_body((p["id"], 6)), token=buyer["token"]), 201)
    processed = wait_order_status(api, o["id"], "processed", token=buyer["token"], timeout=10)
    assert_same_order(processed, o)
    assert product_stock(api, p["id"]) == 4
    c = assert_order(assert_status(api.post(cancel_path(o["id"]), token=buyer["token"]), 200), status="cancelled")
    assert c["items"] == o["items"]
    assert product_stock(api, p["id"]) == 10
    assert_error(api.post(cancel_path(o["id"]), token=buyer["token"]), 409, "order_not_cancellable")


def test_cancel_after_the_product_was_deleted(api, admin_api, make_product, buyer):
    p = make_product(stock=5)
    o = assert_status(place_order(api, order_body((p["id"], 2)), token=buyer["token"]), 201)
    assert_status(admin_api.delete(f"{PRODUCTS}/{p['id']}"), 204)
    c = assert_order(assert_status(api.post(cancel_path(o["id"]), token=buyer["token"]), 200), status="cancelled")
    assert c["items"] == o["items"]
    assert_error(api.get(f"{PRODUCTS}/{p['id']}"), 404, "product_not_found")  # stays deleted
