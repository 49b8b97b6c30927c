"""Issue 10, Carts: every status and error code of GET/DELETE /api/v1/cart, POST/PUT/DELETE
/api/v1/cart/items and PUT/DELETE /api/v1/cart/promo-code (the promo code rules of the cart are in
test_promo_codes.py), and product deletion removing a product from every cart.

Decisions followed where the contract is silent: /tmp/issue10/DECISIONS.md (the cart JSON, the 422
fields, 404 beyond Int64, the 51st line, 409 insufficient_stock of a cart).
"""

from decimal import Decimal

import pytest

from stockroom_kit.client import (
    ANY_FIELD,
    CART,
    CART_ITEMS,
    CART_PROMO,
    CHECKOUT,
    RawNumber,
    add_to_cart,
    amounts,
    assert_order,
    assert_cart,
    assert_error,
    assert_recent,
    assert_status,
    assert_unauthorized,
    cart_item_path,
    cart_lines,
    checkout,
    describe,
    fill_cart,
    get_cart,
    param_id,
    parse_ts,
    product_stock,
    set_cart_item,
)

D = Decimal
MISSING_ID = 2_000_000_000  # a positive id no test creates
PRODUCTS = "/api/v1/products"


@pytest.fixture
def shopper(new_user):
    return new_user("cart")


# ---------------------------------------------------------------- 401


ENDPOINTS = [
    ("GET", CART, None),
    ("DELETE", CART, None),
    ("POST", CART_ITEMS, {"product_id": 1, "quantity": 1}),
    ("PUT", cart_item_path(1), {"quantity": 1}),
    ("DELETE", cart_item_path(1), None),
    ("PUT", CART_PROMO, {"code": "SAVE10"}),
    ("DELETE", CART_PROMO, None),
    ("POST", CHECKOUT, None),
]


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("token", [None, "0" * 64, "not a token"], ids=["no token", "unknown token", "malformed"])
def test_cart_endpoints_need_a_token(api, method, path, body, token):
    kw = {"json": body} if body is not None else {}
    assert_unauthorized(api.request(method, path, token=token, **kw))


def test_logged_out_token_is_401(api, new_user, make_product):
    user = new_user("cartlo")
    p = make_product(stock=5)
    assert_status(add_to_cart(api, p["id"], 1, token=user["token"]), 200)
    assert_status(api.post("/api/v1/auth/logout", token=user["token"]), 204)
    assert_unauthorized(api.get(CART, token=user["token"]))
    assert_unauthorized(add_to_cart(api, p["id"], 1, token=user["token"]))


# ---------------------------------------------------------------- 405


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("POST", CART, {"GET", "DELETE"}),
        ("PUT", CART, {"GET", "DELETE"}),
        ("GET", CART_ITEMS, {"POST"}),
        ("GET", cart_item_path(1), {"PUT", "DELETE"}),
        ("POST", cart_item_path(1), {"PUT", "DELETE"}),
        ("GET", CART_PROMO, {"PUT", "DELETE"}),
        ("GET", CHECKOUT, {"POST"}),
    ],
)
def test_wrong_method_is_405(api, customer_token, method, path, allowed):
    r = api.request(method, path, token=customer_token)
    assert_error(r, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, describe(r)


# ---------------------------------------------------------------- GET / DELETE cart


def test_new_user_has_an_empty_cart(api, shopper):
    cart = get_cart(api, shopper["token"])
    assert cart == {"items": [], "promo_code": None, "promo_code_applies": False, "subtotal": 0, "discount": 0,
                    "delivery": 0, "tax": 0, "total": 0, "updated_at": None}, cart


def test_add_creates_and_adds_to_a_line(api, make_product, shopper):
    p1 = make_product(price=D("19.99"), stock=10)
    p2 = make_product(price=D("0.10"), stock=10)
    # p2 first: the cart lists lines by ascending product_id
    r = add_to_cart(api, p2["id"], 3, token=shopper["token"])
    cart = assert_cart(assert_status(r, 200), lines=[(p2["id"], 3)], promo_code=None, applies=False)
    first = assert_recent(cart["updated_at"])
    cart = assert_cart(assert_status(add_to_cart(api, p1["id"], 2, token=shopper["token"]), 200))
    cart = assert_cart(assert_status(add_to_cart(api, p1["id"], 1, token=shopper["token"]), 200))
    assert cart["items"] == [
        {"product_id": p1["id"], "name": p1["name"], "quantity": 3, "unit_price": D("19.99"), "line_total": D("59.97")},
        {"product_id": p2["id"], "name": p2["name"], "quantity": 3, "unit_price": D("0.10"), "line_total": D("0.30")},
    ], cart
    assert amounts(cart) == {"subtotal": D("60.27"), "discount": 0, "delivery": 0, "tax": 0, "total": D("60.27")}
    assert parse_ts(cart["updated_at"]) >= first
    assert get_cart(api, shopper["token"]) == cart
    # a cart holds products, it takes no stock
    assert product_stock(api, p1["id"]) == 10 and product_stock(api, p2["id"]) == 10


def test_delete_cart_is_204_and_removes_lines_and_code(api, make_product, make_promo_code, shopper):
    p = make_product(stock=10)
    code = make_promo_code()
    fill_cart(api, shopper["token"], (p["id"], 2), code=code["code"])
    r = api.delete(CART, token=shopper["token"])
    assert_status(r, 204)
    assert_cart(get_cart(api, shopper["token"]), lines=[], promo_code=None, applies=False)
    # again, and for a user who never had a cart
    assert_status(api.delete(CART, token=shopper["token"]), 204)


def test_delete_cart_of_a_user_without_cart_is_204(api, new_user):
    user = new_user("nocart")
    assert_status(api.delete(CART, token=user["token"]), 204)
    assert_cart(get_cart(api, user["token"]), lines=[], promo_code=None)


def test_each_user_sees_only_their_cart(api, make_product, new_user):
    p = make_product(stock=10)
    q = make_product(stock=10)
    alice, bob = new_user("calice"), new_user("cbob")
    fill_cart(api, alice["token"], (p["id"], 2))
    fill_cart(api, bob["token"], (q["id"], 1))
    assert cart_lines(get_cart(api, alice["token"])) == [(p["id"], 2)]
    assert cart_lines(get_cart(api, bob["token"])) == [(q["id"], 1)]
    # Bob removes "his" line of p: he has none
    assert_error(api.delete(cart_item_path(p["id"]), token=bob["token"]), 404, "cart_item_not_found")
    assert_status(api.delete(CART, token=bob["token"]), 204)
    assert cart_lines(get_cart(api, alice["token"])) == [(p["id"], 2)]


def test_cart_shows_current_name_and_price(api, admin_api, make_product, shopper):
    p = make_product(price=D("5.00"), stock=10)
    fill_cart(api, shopper["token"], (p["id"], 3))
    assert_status(admin_api.put(f"{PRODUCTS}/{p['id']}", json={"name": "renamed " + p["name"], "price": D("7.50"),
                                                              "stock": 10}), 200)
    cart = get_cart(api, shopper["token"])
    assert cart["items"] == [{"product_id": p["id"], "name": "renamed " + p["name"], "quantity": 3,
                              "unit_price": D("7.50"), "line_total": D("22.50")}], cart
    assert cart["subtotal"] == D("22.50") and cart["total"] == D("22.50")


# ---------------------------------------------------------------- POST /cart/items: 422, 404, 409


def _bad_add_bodies(pid):
    return [
        ({"quantity": 1}, "product_id"),
        ({"product_id": pid}, "quantity"),
        ({"product_id": pid, "quantity": 0}, "quantity"),
        ({"product_id": pid, "quantity": -1}, "quantity"),
        ({"product_id": pid, "quantity": 1001}, "quantity"),
        ({"product_id": pid, "quantity": 2**64}, "quantity"),
        ({"product_id": pid, "quantity": RawNumber("1.5")}, "quantity"),
        ({"product_id": pid, "quantity": "1"}, "quantity"),
        ({"product_id": pid, "quantity": None}, "quantity"),
        ({"product_id": pid, "quantity": True}, "quantity"),
        ({"product_id": 0, "quantity": 1}, "product_id"),
        ({"product_id": -1, "quantity": 1}, "product_id"),
        ({"product_id": str(pid), "quantity": 1}, "product_id"),
        ({"product_id": RawNumber("1.5"), "quantity": 1}, "product_id"),
        ({"product_id": None, "quantity": 1}, "product_id"),
        ({"product_id": True, "quantity": 1}, "product_id"),
        ({"product_id": [pid], "quantity": 1}, "product_id"),
    ]


BAD_ADD_CASES = list(range(len(_bad_add_bodies(1))))


@pytest.mark.parametrize("case", BAD_ADD_CASES, ids=[param_id(b) for b, _ in _bad_add_bodies(1)])
def test_add_invalid_body_is_422_and_changes_nothing(api, make_product, shopper, case):
    p = make_product(stock=2000)
    fill_cart(api, shopper["token"], (p["id"], 1))
    before = get_cart(api, shopper["token"])
    body, field = _bad_add_bodies(p["id"])[case]
    assert_error(api.post(CART_ITEMS, json=body, token=shopper["token"]), 422, "validation_failed", field=field)
    assert get_cart(api, shopper["token"]) == before


@pytest.mark.parametrize("body", [[], "x", 5, None, [{"product_id": 1, "quantity": 1}]], ids=param_id)
def test_add_body_not_an_object_is_422(api, shopper, body):
    assert_error(api.post(CART_ITEMS, json=body, token=shopper["token"]), 422, "validation_failed")


def test_add_unknown_field_is_422(api, make_product, shopper):
    p = make_product(stock=5)
    for extra in ({"price": 1}, {"unit_price": D("0.01")}, {"note": "x"}):
        body = {"product_id": p["id"], "quantity": 1, **extra}
        assert_error(api.post(CART_ITEMS, json=body, token=shopper["token"]), 422, "validation_failed", field=ANY_FIELD)
    assert_cart(get_cart(api, shopper["token"]), lines=[])


def test_add_invalid_json_is_400_and_wrong_type_is_415(api, make_product, shopper):
    p = make_product(stock=5)
    r = api.post(CART_ITEMS, data=b'{"product_id": ', token=shopper["token"],
                 headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    r = api.post(CART_ITEMS, data=f'{{"product_id": {p["id"]}, "quantity": 1}}'.encode(), token=shopper["token"],
                 headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert_cart(get_cart(api, shopper["token"]), lines=[])


def test_add_sum_above_1000_is_422(api, make_product, shopper):
    p = make_product(stock=5000)
    assert_status(add_to_cart(api, p["id"], 1000, token=shopper["token"]), 200)  # exactly 1000 is fine
    assert_error(add_to_cart(api, p["id"], 1, token=shopper["token"]), 422, "validation_failed", field="quantity")
    assert cart_lines(get_cart(api, shopper["token"])) == [(p["id"], 1000)]
    assert_status(set_cart_item(api, p["id"], 600, token=shopper["token"]), 200)
    assert_error(add_to_cart(api, p["id"], 401, token=shopper["token"]), 422, "validation_failed", field="quantity")
    assert_status(add_to_cart(api, p["id"], 400, token=shopper["token"]), 200)
    assert cart_lines(get_cart(api, shopper["token"])) == [(p["id"], 1000)]


def test_fifty_lines_and_the_51st_is_422(api, make_product, shopper):
    products = [make_product(price=D("0.10"), stock=3) for _ in range(51)]
    for p in products[:50]:
        assert_status(add_to_cart(api, p["id"], 1, token=shopper["token"]), 200)
    cart = get_cart(api, shopper["token"])
    assert len(cart["items"]) == 50 and cart["subtotal"] == D("5.00"), cart
    last = products[50]["id"]
    assert_error(add_to_cart(api, last, 1, token=shopper["token"]), 422, "validation_failed", field="product_id")
    assert_error(set_cart_item(api, last, 1, token=shopper["token"]), 422, "validation_failed", field="product_id")
    assert get_cart(api, shopper["token"]) == cart
    # adding to one of the 50 lines (and setting it) is still fine
    assert_status(add_to_cart(api, products[0]["id"], 1, token=shopper["token"]), 200)
    assert_status(set_cart_item(api, products[1]["id"], 3, token=shopper["token"]), 200)
    # after removing a line, a new product fits again
    assert_status(api.delete(cart_item_path(products[2]["id"]), token=shopper["token"]), 200)
    cart = assert_cart(assert_status(add_to_cart(api, last, 1, token=shopper["token"]), 200))
    assert len(cart["items"]) == 50


@pytest.mark.parametrize("pid", [MISSING_ID, 2**63 - 1, 2**63, 2**64, 10**30], ids=str)
def test_add_unknown_product_is_404(api, shopper, pid):
    err = assert_error(add_to_cart(api, pid, 1, token=shopper["token"]), 404, "product_not_found")
    if pid < 2**63:
        assert err.get("product_id") == pid, err
    assert_cart(get_cart(api, shopper["token"]), lines=[])


def test_add_deleted_product_is_404(api, admin_api, make_product, shopper):
    p = make_product(stock=5)
    assert_status(admin_api.delete(f"{PRODUCTS}/{p['id']}"), 204)
    err = assert_error(add_to_cart(api, p["id"], 1, token=shopper["token"]), 404, "product_not_found")
    assert err.get("product_id") == p["id"], err
    err = assert_error(set_cart_item(api, p["id"], 1, token=shopper["token"]), 404, "product_not_found")
    assert err.get("product_id") == p["id"], err
    assert_cart(get_cart(api, shopper["token"]), lines=[])


def test_add_above_stock_is_409_and_changes_nothing(api, make_product, shopper):
    p = make_product(stock=5)
    err = assert_error(add_to_cart(api, p["id"], 6, token=shopper["token"]), 409, "insufficient_stock")
    assert err.get("product_id") == p["id"] and err.get("available") == 5, err
    assert_cart(get_cart(api, shopper["token"]), lines=[])
    assert_status(add_to_cart(api, p["id"], 3, token=shopper["token"]), 200)
    before = get_cart(api, shopper["token"])
    # 3 + 3 > 5: the resulting quantity counts
    err = assert_error(add_to_cart(api, p["id"], 3, token=shopper["token"]), 409, "insufficient_stock")
    assert err.get("product_id") == p["id"] and err.get("available") == 5, err
    assert get_cart(api, shopper["token"]) == before
    assert_status(add_to_cart(api, p["id"], 2, token=shopper["token"]), 200)  # exactly the stock
    assert cart_lines(get_cart(api, shopper["token"])) == [(p["id"], 5)]
    assert product_stock(api, p["id"]) == 5


def test_sold_out_product_is_409(api, make_product, shopper):
    p = make_product(stock=0)
    err = assert_error(add_to_cart(api, p["id"], 1, token=shopper["token"]), 409, "insufficient_stock")
    assert err.get("product_id") == p["id"] and err.get("available") == 0, err
    err = assert_error(set_cart_item(api, p["id"], 1, token=shopper["token"]), 409, "insufficient_stock")
    assert err.get("available") == 0, err


# ---------------------------------------------------------------- PUT /cart/items/{id}


def test_put_sets_and_creates_a_line(api, make_product, shopper):
    p = make_product(price=D("2.50"), stock=20)
    q = make_product(price=D("1.00"), stock=20)
    cart = assert_cart(assert_status(set_cart_item(api, q["id"], 4, token=shopper["token"]), 200),
                       lines=[(q["id"], 4)])
    assert cart["subtotal"] == D("4.00")
    assert_status(add_to_cart(api, p["id"], 5, token=shopper["token"]), 200)
    cart = assert_cart(assert_status(set_cart_item(api, p["id"], 2, token=shopper["token"]), 200),
                       lines=[(p["id"], 2), (q["id"], 4)])
    assert cart["items"][0]["line_total"] == D("5.00") and cart["subtotal"] == D("9.00"), cart
    assert_status(set_cart_item(api, p["id"], 20, token=shopper["token"]), 200)  # exactly the stock
    assert cart_lines(get_cart(api, shopper["token"])) == [(p["id"], 20), (q["id"], 4)]


@pytest.mark.parametrize(
    "body",
    [{"quantity": 0}, {"quantity": -1}, {"quantity": 1001}, {"quantity": RawNumber("2.5")}, {"quantity": "3"},
     {"quantity": None}, {"quantity": False}, {}],
    ids=param_id,
)
def test_put_invalid_quantity_is_422(api, make_product, shopper, body):
    p = make_product(stock=2000)
    fill_cart(api, shopper["token"], (p["id"], 2))
    before = get_cart(api, shopper["token"])
    assert_error(api.put(cart_item_path(p["id"]), json=body, token=shopper["token"]), 422, "validation_failed",
                 field="quantity")
    assert get_cart(api, shopper["token"]) == before


def test_put_unknown_field_or_not_an_object_is_422(api, make_product, shopper):
    p = make_product(stock=5)
    fill_cart(api, shopper["token"], (p["id"], 2))
    before = get_cart(api, shopper["token"])
    for body in ({"quantity": 1, "product_id": p["id"]}, {"quantity": 1, "price": 1}):
        assert_error(api.put(cart_item_path(p["id"]), json=body, token=shopper["token"]), 422, "validation_failed",
                     field=ANY_FIELD)
    for body in ([], 3, "x"):
        assert_error(api.put(cart_item_path(p["id"]), json=body, token=shopper["token"]), 422, "validation_failed")
    assert get_cart(api, shopper["token"]) == before


def test_put_above_stock_is_409_and_unknown_product_404(api, make_product, shopper):
    p = make_product(stock=5)
    fill_cart(api, shopper["token"], (p["id"], 2))
    before = get_cart(api, shopper["token"])
    err = assert_error(set_cart_item(api, p["id"], 6, token=shopper["token"]), 409, "insufficient_stock")
    assert err.get("product_id") == p["id"] and err.get("available") == 5, err
    err = assert_error(set_cart_item(api, MISSING_ID, 1, token=shopper["token"]), 404, "product_not_found")
    assert err.get("product_id") == MISSING_ID, err
    assert_error(set_cart_item(api, 2**64, 1, token=shopper["token"]), 404, {"product_not_found", "not_found"})
    assert get_cart(api, shopper["token"]) == before


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5"])
def test_non_positive_integer_item_path_is_404(api, shopper, raw):
    assert_error(api.put(cart_item_path(raw), json={"quantity": 1}, token=shopper["token"]), 404,
                 {"not_found", "product_not_found", "cart_item_not_found"})
    assert_error(api.delete(cart_item_path(raw), token=shopper["token"]), 404,
                 {"not_found", "product_not_found", "cart_item_not_found"})


# ---------------------------------------------------------------- DELETE /cart/items/{id}


def test_delete_item(api, make_product, shopper):
    p = make_product(price=D("1.00"), stock=5)
    q = make_product(price=D("2.00"), stock=5)
    fill_cart(api, shopper["token"], (p["id"], 1), (q["id"], 2))
    cart = assert_cart(assert_status(api.delete(cart_item_path(p["id"]), token=shopper["token"]), 200),
                       lines=[(q["id"], 2)])
    assert cart["subtotal"] == D("4.00")
    assert get_cart(api, shopper["token"]) == cart
    err = assert_error(api.delete(cart_item_path(p["id"]), token=shopper["token"]), 404, "cart_item_not_found")
    assert_error(api.delete(cart_item_path(MISSING_ID), token=shopper["token"]), 404, "cart_item_not_found")
    assert err["code"] == "cart_item_not_found"
    assert_cart(assert_status(api.delete(cart_item_path(q["id"]), token=shopper["token"]), 200), lines=[])


def test_delete_item_of_an_empty_cart_is_404(api, new_user, make_product):
    user = new_user("cdel")
    p = make_product(stock=1)
    assert_error(api.delete(cart_item_path(p["id"]), token=user["token"]), 404, "cart_item_not_found")


# ---------------------------------------------------------------- cart promo code endpoints (shape, 422)


def test_put_promo_code_body_is_checked(api, make_product, shopper):
    p = make_product(stock=5)
    fill_cart(api, shopper["token"], (p["id"], 1))
    before = get_cart(api, shopper["token"])
    for body in ({}, {"code": 10}, {"code": None}, {"code": ["SAVE10"]}, {"code": True}):
        assert_error(api.put(CART_PROMO, json=body, token=shopper["token"]), 422, "validation_failed", field="code")
    assert_error(api.put(CART_PROMO, json={"code": "X123", "extra": 1}, token=shopper["token"]), 422,
                 "validation_failed", field=ANY_FIELD)
    for body in ([], "SAVE10"):
        assert_error(api.put(CART_PROMO, json=body, token=shopper["token"]), 422, "validation_failed")
    assert get_cart(api, shopper["token"]) == before


def test_delete_promo_code_without_a_code_is_200(api, new_user):
    user = new_user("cnocode")
    cart = assert_cart(assert_status(api.delete(CART_PROMO, token=user["token"]), 200), lines=[], promo_code=None)
    assert cart["promo_code_applies"] is False


def test_promo_code_survives_line_changes(api, make_product, make_promo_code, shopper):
    p = make_product(price=D("10.00"), stock=10)
    code = make_promo_code(kind="amount", value=D("3.00"))
    fill_cart(api, shopper["token"], (p["id"], 1), code=code["code"])
    cart = assert_cart(assert_status(add_to_cart(api, p["id"], 1, token=shopper["token"]), 200),
                       promo_code=code["code"], applies=True)
    assert cart["discount"] == D("3.00") and cart["total"] == D("17.00"), cart
    # the last line removed: the code stays on the cart but does not apply to an empty cart
    cart = assert_cart(assert_status(api.delete(cart_item_path(p["id"]), token=shopper["token"]), 200),
                       lines=[], promo_code=code["code"], applies=False)
    cart = assert_cart(assert_status(add_to_cart(api, p["id"], 1, token=shopper["token"]), 200),
                       promo_code=code["code"], applies=True)
    assert cart["total"] == D("7.00")
    cart = assert_cart(assert_status(api.delete(CART_PROMO, token=shopper["token"]), 200),
                       lines=[(p["id"], 1)], promo_code=None, applies=False)
    assert cart["total"] == D("10.00")


# ---------------------------------------------------------------- product deletion


def test_deleting_a_product_removes_it_from_every_cart(api, admin_api, make_product, make_promo_code, new_user):
    gone = make_product(price=D("4.00"), stock=10)
    kept = make_product(price=D("1.00"), stock=10)
    code = make_promo_code(kind="percent", value=D("50.00"))
    alice, bob, carol = new_user("cdela"), new_user("cdelb"), new_user("cdelc")
    fill_cart(api, alice["token"], (gone["id"], 2), (kept["id"], 1), code=code["code"])
    fill_cart(api, bob["token"], (gone["id"], 5))
    fill_cart(api, carol["token"], (kept["id"], 3))
    assert_status(admin_api.delete(f"{PRODUCTS}/{gone['id']}"), 204)

    a = assert_cart(get_cart(api, alice["token"]), lines=[(kept["id"], 1)], promo_code=code["code"], applies=True)
    assert amounts(a) == {"subtotal": D("1.00"), "discount": D("0.50"), "delivery": 0, "tax": 0, "total": D("0.50")}
    assert_cart(get_cart(api, bob["token"]), lines=[])
    assert_cart(get_cart(api, carol["token"]), lines=[(kept["id"], 3)])
    # Bob's cart is empty now: checkout says so; Alice checks out what is left
    assert_error(checkout(api, bob["token"]), 409, "cart_empty")
    o = assert_order(assert_status(checkout(api, alice["token"]), 201))
    assert cart_lines(o) == [(kept["id"], 1)] and o["total"] == D("0.50"), o
    assert_error(api.delete(cart_item_path(gone["id"]), token=bob["token"]), 404, "cart_item_not_found")
