"""Issue 3: Idempotency-Key on POST /api/v1/orders — replay, reuse with another body, per-user keys,
key syntax, racing requests with one key, failed requests store nothing."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from stockroom_kit.client import (
    ORDERS,
    Api,
    assert_error,
    assert_order,
    assert_same_order,
    assert_status,
    describe,
    jbody,
    order_body,
    place_order,
    product_stock,
    restock,
)

RACE_TIMEOUT = 30


def _key():
    return "order-" + uuid.uuid4().hex


def _replayed(r):
    return r.headers.get("Idempotent-Replayed", "").strip().lower() == "true"


def _assert_replay(r, first_response):
    first = jbody(first_response)
    again = assert_order(assert_status(r, 201))
    assert _replayed(r), describe(r)
    assert_same_order(again, first)
    assert urlparse(r.headers.get("Location", "")).path == urlparse(first_response.headers["Location"]).path, (
        describe(r))
    return again


def test_replay_answers_the_same_order_and_takes_no_stock(api, make_product, customer_token):
    p = make_product(stock=10)
    key = _key()
    first = place_order(api, order_body((p["id"], 2)), token=customer_token, key=key)
    o = assert_order(assert_status(first, 201), status="pending")
    assert not _replayed(first), describe(first)
    assert product_stock(api, p["id"]) == 8
    for _ in range(2):
        _assert_replay(place_order(api, order_body((p["id"], 2)), token=customer_token, key=key), first)
    assert product_stock(api, p["id"]) == 8
    # a request without a key is a new order
    other = assert_status(place_order(api, order_body((p["id"], 2)), token=customer_token), 201)
    assert other["id"] != o["id"]
    assert product_stock(api, p["id"]) == 6


def test_replay_ignores_item_order_whitespace_and_form(api, make_product, customer_token):
    a = make_product(stock=10)
    b = make_product(stock=10)
    key = _key()
    first = place_order(api, order_body((a["id"], 1), (b["id"], 2)), token=customer_token, key=key)
    assert_status(first, 201)
    reordered = json.dumps(order_body((b["id"], 2), (a["id"], 1)), indent=4).encode()
    r = api.post(ORDERS, data=reordered, token=customer_token,
                 headers={"Content-Type": "application/json", "Idempotency-Key": key})
    _assert_replay(r, first)
    assert product_stock(api, a["id"]) == 9 and product_stock(api, b["id"]) == 8

    # short form == the one-item items form
    key2 = _key()
    short = place_order(api, {"product_id": a["id"], "quantity": 3}, token=customer_token, key=key2)
    assert_status(short, 201)
    _assert_replay(place_order(api, order_body((a["id"], 3)), token=customer_token, key=key2), short)
    compact = b'{"quantity":3,"product_id":%d}' % a["id"]
    r = api.post(ORDERS, data=compact, token=customer_token,
                 headers={"Content-Type": "application/json", "Idempotency-Key": key2})
    _assert_replay(r, short)
    assert product_stock(api, a["id"]) == 6


@pytest.mark.parametrize(
    "change",
    ["quantity", "product", "extra line"],
)
def test_key_reused_with_another_body_is_422(api, make_product, customer_token, change):
    a = make_product(stock=10)
    b = make_product(stock=10)
    key = _key()
    first = place_order(api, order_body((a["id"], 1)), token=customer_token, key=key)
    assert_status(first, 201)
    other = {
        "quantity": order_body((a["id"], 2)),
        "product": order_body((b["id"], 1)),
        "extra line": order_body((a["id"], 1), (b["id"], 1)),
    }[change]
    r = place_order(api, other, token=customer_token, key=key)
    assert_error(r, 422, "idempotency_key_reused")
    assert not _replayed(r)
    assert product_stock(api, a["id"]) == 9 and product_stock(api, b["id"]) == 10
    # the key still replays its own order
    _assert_replay(place_order(api, order_body((a["id"], 1)), token=customer_token, key=key), first)


def test_keys_are_per_user(api, make_product, new_user):
    p = make_product(stock=10)
    u1, u2, u3 = new_user("idem"), new_user("idem"), new_user("idem")
    key = _key()
    r1 = place_order(api, order_body((p["id"], 1)), token=u1["token"], key=key)
    r2 = place_order(api, order_body((p["id"], 1)), token=u2["token"], key=key)
    o1 = assert_order(assert_status(r1, 201), user_id=u1["user"]["id"])
    o2 = assert_order(assert_status(r2, 201), user_id=u2["user"]["id"])
    assert not _replayed(r1) and not _replayed(r2)
    assert o1["id"] != o2["id"]
    # another user's key with another body is no reuse either
    r3 = place_order(api, order_body((p["id"], 3)), token=u3["token"], key=key)
    assert_order(assert_status(r3, 201), user_id=u3["user"]["id"])
    assert not _replayed(r3)
    assert product_stock(api, p["id"]) == 5
    # each user's replay answers that user's order
    _assert_replay(place_order(api, order_body((p["id"], 1)), token=u2["token"], key=key), r2)
    _assert_replay(place_order(api, order_body((p["id"], 1)), token=u1["token"], key=key), r1)
    assert product_stock(api, p["id"]) == 5


@pytest.mark.parametrize(
    "key",
    [
        "",
        "k" * 256,
        "has space",
        "tab\there",
        "caf\u00e9",  # sent as the Latin-1 byte 0xE9
        "caf\u00e9".encode("utf-8"),  # sent as the UTF-8 bytes 0xC3 0xA9
        b"del\x7f",
    ],
    ids=["empty", "256 chars", "space", "tab", "latin-1 e-acute", "utf-8 e-acute", "DEL"],
)
def test_invalid_key_is_422(api, make_product, customer_token, key):
    p = make_product(stock=10)
    r = place_order(api, order_body((p["id"], 1)), token=customer_token, key=key)
    assert_error(r, 422, "validation_failed", field="Idempotency-Key")
    assert product_stock(api, p["id"]) == 10


@pytest.mark.parametrize(
    "key",
    ["k" * 255, "x", "".join(chr(c) for c in range(0x21, 0x7F))],
    ids=["255 chars", "1 char", "every visible ASCII char"],
)
def test_valid_key_edges_are_accepted(api, make_product, new_user, key):
    user = new_user("keys")  # fixed literal keys: a fresh user, so no earlier use of the key can interfere
    p = make_product(stock=10)
    first = place_order(api, order_body((p["id"], 1)), token=user["token"], key=key)
    assert_order(assert_status(first, 201))
    assert not _replayed(first), describe(first)
    _assert_replay(place_order(api, order_body((p["id"], 1)), token=user["token"], key=key), first)
    assert product_stock(api, p["id"]) == 9


def test_20_racing_requests_with_one_key(url, api, make_product, new_user):
    p = make_product(stock=100)
    user = new_user("race")
    key = _key()
    n = 20
    barrier = threading.Barrier(n)
    body = order_body((p["id"], 3))

    def send(_):
        client = Api(url, user["token"])
        try:
            client.get("/health/live", timeout=RACE_TIMEOUT)
            barrier.wait(timeout=30)
            return place_order(client, body, key=key, timeout=RACE_TIMEOUT)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(send, range(n)))

    statuses = [r.status_code for r in responses]
    assert statuses == [201] * n, [describe(r) for r in responses if r.status_code != 201][:3]
    ids = {jbody(r)["id"] for r in responses}
    assert len(ids) == 1, ids
    replayed = [r for r in responses if _replayed(r)]
    assert len(replayed) == n - 1, f"{len(replayed)} replays"
    [original] = [r for r in responses if not _replayed(r)]
    for r in replayed:
        _assert_replay(r, original)
    assert product_stock(api, p["id"]) == 97
    listed = assert_status(api.get(ORDERS, token=user["token"]), 200)
    assert [o["id"] for o in listed["items"]] == list(ids)


def test_failed_request_stores_nothing(api, admin_api, make_product, customer_token):
    p = make_product(stock=1)
    key = _key()
    body = order_body((p["id"], 3))
    err = assert_error(place_order(api, body, token=customer_token, key=key), 409, "insufficient_stock")
    assert err.get("available") == 1
    # the same request fails the same way (nothing stored, no replay of a failure)
    r = place_order(api, body, token=customer_token, key=key)
    assert_error(r, 409, "insufficient_stock")
    assert not _replayed(r)
    restock(admin_api, p["id"], 5)
    first = place_order(api, body, token=customer_token, key=key)
    assert_order(assert_status(first, 201))
    assert not _replayed(first), describe(first)
    assert product_stock(api, p["id"]) == 3
    _assert_replay(place_order(api, body, token=customer_token, key=key), first)
    assert product_stock(api, p["id"]) == 3


def test_failed_validation_or_missing_product_stores_nothing(api, make_product, customer_token):
    p = make_product(stock=5)
    key = _key()
    # a 422 and a 404 with the key, then a different, valid body with the same key: a first use, not a reuse
    assert_error(place_order(api, order_body((p["id"], 0)), token=customer_token, key=key),
                 422, "validation_failed", field="items[0].quantity")
    assert_error(place_order(api, order_body((2_000_000_000, 1)), token=customer_token, key=key),
                 404, "product_not_found")
    r = place_order(api, order_body((p["id"], 2)), token=customer_token, key=key)
    assert_order(assert_status(r, 201))
    assert not _replayed(r), describe(r)
    assert product_stock(api, p["id"]) == 3
