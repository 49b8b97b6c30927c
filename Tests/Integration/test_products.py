"""Contract: Products (CRUD, money exactness, validation, auth, pagination, row locking)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from stockroom_kit.client import (
    RawNumber,
    assert_error,
    assert_product,
    assert_recent,
    assert_status,
    assert_unauthorized,
    describe,
    jbody,
    param_id,
    parse_ts,
    unique_name,
)

PRODUCTS = "/api/v1/products"
MISSING_ID = 2_000_000_000  # a positive id that no test creates


def product_path(pid):
    return f"{PRODUCTS}/{pid}"


_DEFAULT = object()


def _post_product(admin_api, name=_DEFAULT, price=Decimal("1.00"), stock=1, **extra):
    body = {"name": unique_name("p") if name is _DEFAULT else name, "price": price, "stock": stock}
    body.update(extra)
    return admin_api.post(PRODUCTS, json=body)


def _list_all_after(api, after, limit=100):
    """Walk the list from `after` to the end; returns all items."""
    items, pages = [], 0
    while True:
        body = assert_status(api.get(PRODUCTS, params={"limit": limit, "after": after}), 200)
        items.extend(body["items"])
        if body["next_after"] is None:
            return items
        after = body["next_after"]
        pages += 1
        assert pages < 10_000


# ---------------------------------------------------------------- read (anonymous)


def test_anonymous_list(api, make_product):
    make_product()
    body = assert_status(api.get(PRODUCTS), 200)
    assert set(body) == {"items", "next_after"}, body
    assert isinstance(body["items"], list) and body["items"]
    assert len(body["items"]) <= 20  # default limit
    for p in body["items"]:
        assert_product(p)
    ids = [p["id"] for p in body["items"]]
    assert ids == sorted(set(ids))
    assert body["next_after"] is None or (isinstance(body["next_after"], int) and body["next_after"] == ids[-1])


def test_default_limit_is_20(api, make_product, admin_api):
    first = make_product()
    for _ in range(21):
        make_product()
    body = assert_status(api.get(PRODUCTS, params={"after": first["id"] - 1}), 200)
    assert len(body["items"]) == 20
    assert body["next_after"] == body["items"][-1]["id"]


def test_anonymous_get(api, make_product):
    created = make_product(price=Decimal("12.34"), stock=7)
    got = assert_product(assert_status(api.get(product_path(created["id"])), 200))
    assert got == created


def test_get_unknown_product_is_404(api):
    assert_error(api.get(product_path(MISSING_ID)), 404, "product_not_found")


# ---------------------------------------------------------------- create


def test_admin_create_product(admin_api):
    name = unique_name("widget")
    r = _post_product(admin_api, name=name, price=Decimal("19.99"), stock=5)
    p = assert_product(assert_status(r, 201))
    assert p["name"] == name and p["price"] == Decimal("19.99") and p["stock"] == 5
    assert_recent(p["created_at"])
    assert p["created_at"] == p["updated_at"]
    location = r.headers.get("Location", "")
    assert urlparse(location).path == product_path(p["id"]), describe(r)
    assert not urlparse(location).query


@pytest.mark.parametrize(
    "literal,expected",
    [
        ("19.99", "19.99"),
        ("0.1", "0.10"),
        ("0.10", "0.10"),
        ("0", "0.00"),
        ("0.00", "0.00"),
        ("0.01", "0.01"),
        ("5", "5.00"),
        ("1.5", "1.50"),
        ("99999999.99", "99999999.99"),
        ("12345678.91", "12345678.91"),
        ("0.30", "0.30"),
        ("1.10", "1.10"),
    ],
)
def test_price_is_exact(api, admin_api, literal, expected):
    r = _post_product(admin_api, price=RawNumber(literal))
    p = assert_product(assert_status(r, 201))
    assert p["price"] == Decimal(expected), describe(r)
    again = assert_product(assert_status(api.get(product_path(p["id"])), 200))
    assert again["price"] == Decimal(expected)
    assert again == p


@pytest.mark.parametrize(
    "price",
    [
        RawNumber("100000000.00"),
        RawNumber("100000000"),
        RawNumber("1.999"),
        RawNumber("0.001"),
        RawNumber("-1"),
        RawNumber("-0.01"),
        RawNumber("1e309"),
        "19.99",
        None,
        True,
        [1],
        {"amount": 1},
    ],
    ids=param_id,
)
def test_bad_price_is_422(admin_api, price):
    assert_error(_post_product(admin_api, price=price), 422, "validation_failed", field="price")


@pytest.mark.parametrize("stock", [0, 1, 1_000_000_000])
def test_stock_bounds_accepted(admin_api, stock):
    p = assert_product(assert_status(_post_product(admin_api, stock=stock), 201))
    assert p["stock"] == stock


@pytest.mark.parametrize(
    "stock", [-1, 1_000_000_001, 2**63, RawNumber("1.5"), "5", None, False], ids=param_id
)
def test_bad_stock_is_422(admin_api, stock):
    assert_error(_post_product(admin_api, stock=stock), 422, "validation_failed", field="stock")


@pytest.mark.parametrize("name", ["", " ", "     ", "x" * 256, "é" * 256, 42, None, ["x"]], ids=param_id)
def test_bad_name_is_422(admin_api, name):
    assert_error(_post_product(admin_api, name=name), 422, "validation_failed", field="name")


@pytest.mark.parametrize(
    "name",
    [
        "x" * 255,
        "é" * 255,
        "Grüße aus Köln — 日本語の商品 😀🛒",
        "  padded name  ",
        "'; DROP TABLE products; --",
        "Robert'); DROP TABLE users;--",
        'back\\slash \\\\ and "double" and \'single\' quotes',
        "percent % underscore _ %_%",
        "<b>html</b> & entities &amp;",
        "NUL-free \u00a0 nbsp",
    ],
)
def test_name_round_trips_verbatim(api, admin_api, name):
    p = assert_product(assert_status(_post_product(admin_api, name=name), 201))
    assert p["name"] == name
    got = assert_status(api.get(product_path(p["id"])), 200)
    assert got["name"] == name
    listed = assert_status(api.get(PRODUCTS, params={"after": p["id"] - 1, "limit": 1}), 200)
    assert listed["items"][0]["id"] == p["id"] and listed["items"][0]["name"] == name


def test_sql_metacharacters_do_not_break_the_table(api, admin_api):
    name = "'; DROP TABLE products; --"
    assert_status(_post_product(admin_api, name=name), 201)
    assert_status(api.get(PRODUCTS), 200)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"price": 1, "stock": 1}, "name"),
        ({"name": "x", "stock": 1}, "price"),
        ({"name": "x", "price": 1}, "stock"),
        ({"name": "x", "price": 1, "stock": 1, "id": 5}, "id"),
        ({"name": "x", "price": 1, "stock": 1, "color": "red"}, "color"),
    ],
)
def test_create_missing_or_unknown_field_is_422(admin_api, body, field):
    assert_error(admin_api.post(PRODUCTS, json=body), 422, "validation_failed", field=field)


def test_create_wrong_shape_is_422(admin_api):
    assert_error(admin_api.post(PRODUCTS, json=[{"name": "x", "price": 1, "stock": 1}]), 422, "validation_failed")


def test_create_invalid_json_is_400(admin_api):
    r = admin_api.post(PRODUCTS, data=b'{"name": "x", "price": 1.00,', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


# ---------------------------------------------------------------- authorization


def _write_requests(pid):
    body = {"name": "x", "price": 1, "stock": 1}
    return [
        ("POST", PRODUCTS, body),
        ("PUT", product_path(pid), body),
        ("DELETE", product_path(pid), None),
        ("POST", product_path(pid) + "/restock", {"quantity": 1}),
    ]


def _send(api, method, path, body, token=None):
    if body is None:
        return api.request(method, path, token=token)
    return api.request(method, path, json=body, token=token)


def test_customer_cannot_write(api, make_product, customer_token):
    p = make_product(stock=3)
    for method, path, body in _write_requests(p["id"]):
        assert_error(_send(api, method, path, body, customer_token), 403, "forbidden")
    assert assert_status(api.get(product_path(p["id"])), 200) == p


def test_anonymous_cannot_write(api, make_product):
    p = make_product(stock=3)
    for method, path, body in _write_requests(p["id"]):
        assert_unauthorized(_send(api, method, path, body))
    assert assert_status(api.get(product_path(p["id"])), 200) == p


def test_bad_token_cannot_write(api, make_product):
    p = make_product(stock=3)
    for method, path, body in _write_requests(p["id"]):
        assert_unauthorized(_send(api, method, path, body, "0" * 64))
    assert assert_status(api.get(product_path(p["id"])), 200) == p


# ---------------------------------------------------------------- update


def test_put_replaces_and_bumps_updated_at(api, admin_api, make_product):
    p = make_product(price=Decimal("1.00"), stock=1)
    new_name = unique_name("renamed")
    r = admin_api.put(product_path(p["id"]), json={"name": new_name, "price": Decimal("2.50"), "stock": 42})
    q = assert_product(assert_status(r, 200))
    assert q["id"] == p["id"]
    assert q["name"] == new_name and q["price"] == Decimal("2.50") and q["stock"] == 42
    assert q["created_at"] == p["created_at"]
    assert parse_ts(q["updated_at"]) >= parse_ts(p["updated_at"])
    assert assert_status(api.get(product_path(p["id"])), 200) == q


def test_put_on_unknown_product_is_404(admin_api):
    r = admin_api.put(product_path(MISSING_ID), json={"name": "x", "price": 1, "stock": 1})
    assert_error(r, 404, "product_not_found")


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "x", "price": 1}, "stock"),
        ({"name": "", "price": 1, "stock": 1}, "name"),
        ({"name": "x", "price": RawNumber("1.001"), "stock": 1}, "price"),
        ({"name": "x", "price": 1, "stock": -5}, "stock"),
        ({"name": "x", "price": 1, "stock": 1, "extra": 1}, "extra"),
    ],
)
def test_put_validation_422_changes_nothing(api, admin_api, make_product, body, field):
    p = make_product()
    assert_error(admin_api.put(product_path(p["id"]), json=body), 422, "validation_failed", field=field)
    assert assert_status(api.get(product_path(p["id"])), 200) == p


# ---------------------------------------------------------------- delete


def test_delete_product(api, admin_api, make_product):
    p = make_product()
    r = admin_api.delete(product_path(p["id"]))
    assert_status(r, 204)
    assert_error(api.get(product_path(p["id"])), 404, "product_not_found")
    listed = _list_all_after(api, p["id"] - 1)
    assert p["id"] not in [item["id"] for item in listed]
    assert_error(admin_api.delete(product_path(p["id"])), 404, "product_not_found")
    assert_error(
        admin_api.put(product_path(p["id"]), json={"name": "x", "price": 1, "stock": 1}), 404, "product_not_found"
    )
    assert_error(admin_api.post(product_path(p["id"]) + "/restock", json={"quantity": 1}), 404, "product_not_found")


def test_delete_unknown_product_is_404(admin_api):
    assert_error(admin_api.delete(product_path(MISSING_ID)), 404, "product_not_found")


# ---------------------------------------------------------------- restock


@pytest.mark.parametrize("quantity", [1, 1_000_000])
def test_restock_adds_quantity(api, admin_api, make_product, quantity):
    p = make_product(stock=5)
    r = admin_api.post(product_path(p["id"]) + "/restock", json={"quantity": quantity})
    q = assert_product(assert_status(r, 200))
    assert q["id"] == p["id"] and q["stock"] == 5 + quantity
    assert q["name"] == p["name"] and q["price"] == p["price"]
    assert parse_ts(q["updated_at"]) >= parse_ts(p["updated_at"])
    assert assert_status(api.get(product_path(p["id"])), 200)["stock"] == 5 + quantity


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": 1_000_001},
        {"quantity": RawNumber("1.5")},
        {"quantity": "3"},
        {"quantity": None},
        {},
        {"quantity": 1, "note": "x"},
    ],
    ids=param_id,
)
def test_bad_restock_is_422(api, admin_api, make_product, body):
    p = make_product(stock=5)
    field = "note" if "note" in body else "quantity"
    r = admin_api.post(product_path(p["id"]) + "/restock", json=body)
    assert_error(r, 422, "validation_failed", field=field)
    assert assert_status(api.get(product_path(p["id"])), 200)["stock"] == 5


def test_restock_unknown_product_is_404(admin_api):
    r = admin_api.post(product_path(MISSING_ID) + "/restock", json={"quantity": 1})
    assert_error(r, 404, "product_not_found")


def test_concurrent_restocks_lose_no_update(api, make_api, admin_token, make_product):
    p = make_product(stock=100)
    n = 20
    clients = [make_api(admin_token) for _ in range(n)]
    barrier = threading.Barrier(n)

    def restock(client):
        barrier.wait(timeout=20)
        return client.post(product_path(p["id"]) + "/restock", json={"quantity": 1})

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(restock, clients))

    for r in responses:
        assert r.status_code == 200, describe(r)
    stocks = sorted(jbody(r)["stock"] for r in responses)
    # with the row locked, every restock sees the previous one's result
    assert stocks == list(range(101, 101 + n)), stocks
    assert assert_status(api.get(product_path(p["id"])), 200)["stock"] == 100 + n


# ---------------------------------------------------------------- pagination


def test_pagination_walk(api, admin_api, make_product):
    created = [make_product() for _ in range(5)]
    ids = [p["id"] for p in created]
    assert ids == sorted(ids)
    deleted = {ids[1], ids[3]}
    for pid in deleted:
        assert_status(admin_api.delete(product_path(pid)), 204)

    seen, after, pages = [], ids[0] - 1, 0
    while True:
        body = assert_status(api.get(PRODUCTS, params={"limit": 2, "after": after}), 200)
        assert set(body) == {"items", "next_after"}
        items = body["items"]
        assert len(items) <= 2
        for item in items:
            assert_product(item)
        seen.extend(item["id"] for item in items)
        pages += 1
        assert pages < 1000
        if body["next_after"] is None:
            break
        assert len(items) == 2, body
        assert body["next_after"] == items[-1]["id"], body
        after = body["next_after"]

    assert seen == sorted(seen), seen
    assert len(seen) == len(set(seen)), seen
    assert all(i > ids[0] - 1 for i in seen)
    assert [i for i in seen if i in ids] == [ids[0], ids[2], ids[4]], seen
    assert not deleted & set(seen)


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_pages_across_runs_of_deleted_products(api, admin_api, make_product, limit):
    # A page is first read along the primary key within a budget of 2 x (limit + 1) rows examined;
    # runs of deleted products longer than that budget must still give full pages in id order
    # (the live index answers then), and the last page a null next_after.
    created = [make_product()["id"] for _ in range(16)]
    deleted = set(created[1:11]) | {created[12], created[13]}
    for product_id in sorted(deleted):
        assert_status(admin_api.delete(product_path(product_id)), 204)
    live = [i for i in created if i not in deleted]

    seen, after, pages = [], created[0] - 1, 0
    while True:
        body = assert_status(api.get(PRODUCTS, params={"limit": limit, "after": after}), 200)
        ids = [item["id"] for item in body["items"]]
        seen.extend(ids)
        pages += 1
        assert pages < 100
        if body["next_after"] is None:
            break
        assert len(ids) == limit, f"a page before the last has {len(ids)} items, not {limit}: {body}"
        assert body["next_after"] == ids[-1], body
        after = body["next_after"]
    # nothing was created after these (tests run one at a time)
    assert seen == live, f"pages of {limit} gave {seen}, the live products are {live}"


def test_last_page_has_null_next_after(api, make_product):
    created = [make_product() for _ in range(3)]
    first = created[0]["id"]
    body = assert_status(api.get(PRODUCTS, params={"limit": 3, "after": first - 1}), 200)
    assert [p["id"] for p in body["items"]][:3] == [p["id"] for p in created]
    # nothing was created after these three (tests run one at a time)
    assert body["next_after"] is None, body
    tail = assert_status(api.get(PRODUCTS, params={"limit": 5, "after": created[-1]["id"]}), 200)
    assert tail == {"items": [], "next_after": None}


def test_limit_bounds(api, make_product):
    make_product()
    assert len(assert_status(api.get(PRODUCTS, params={"limit": 1}), 200)["items"]) == 1
    assert len(assert_status(api.get(PRODUCTS, params={"limit": 100}), 200)["items"]) <= 100


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "99999999999999999999999"}, "limit"),
        ({"after": "-1"}, "after"),
        ({"after": "abc"}, "after"),
        ({"after": "1.5"}, "after"),
    ],
)
def test_bad_pagination_params_422(api, params, field):
    assert_error(api.get(PRODUCTS, params=params), 422, "validation_failed", field=field)


@pytest.mark.parametrize("after", ["9223372036854775807", "9223372036854775808", "99999999999999999999999"])
def test_after_beyond_every_id_is_an_empty_page(api, after):
    # An id too large for any row is still an id: the page after it is empty, not a 422.
    assert assert_status(api.get(PRODUCTS, params={"after": after}), 200) == {"items": [], "next_after": None}
