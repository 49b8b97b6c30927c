"""Issue 10, Promo codes: the admin CRUD (every status and error code, 422 per field), applying a
code to a cart (invalid, exhausted, not reaching its minimum, any case), a code deleted or used up
while on carts, redemptions (and their return on cancel), and POST /api/v1/orders with promo_code.

Decisions followed where the contract is silent: /tmp/issue10/DECISIONS.md.
"""

import datetime as dt
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from stockroom_kit.client import (
    assert_same_order,
    ANY_FIELD,
    ORDERS,
    PROMO_CODES,
    RawNumber,
    amounts,
    apply_code,
    assert_cart,
    assert_error,
    assert_order,
    assert_promo_code,
    assert_recent,
    assert_status,
    assert_unauthorized,
    cancel_path,
    checkout,
    describe,
    fill_cart,
    get_cart,
    get_promo_code,
    order_body,
    order_path,
    param_id,
    parse_ts,
    place_order,
    product_stock,
    promo_body,
    promo_code_path,
    unique_code,
)

D = Decimal
MISSING_ID = 2_000_000_000


def _ts(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


DAY = dt.timedelta(days=1)


# ---------------------------------------------------------------- 401 / 403


def _endpoints(code_id):
    return [
        ("POST", PROMO_CODES, promo_body()),
        ("GET", PROMO_CODES, None),
        ("GET", promo_code_path(code_id), None),
        ("PUT", promo_code_path(code_id), promo_body()),
        ("DELETE", promo_code_path(code_id), None),
    ]


@pytest.mark.parametrize("index", range(5), ids=[f"{m} {p}" for m, p, _ in _endpoints("{id}")])
def test_anonymous_is_401_and_customer_is_403(api, admin_api, make_promo_code, customer_token, index):
    code = make_promo_code()
    method, path, body = _endpoints(code["id"])[index]
    kw = {"json": body} if body is not None else {}
    assert_unauthorized(api.request(method, path, **kw))
    assert_unauthorized(api.request(method, path, token="0" * 64, **kw))
    assert_error(api.request(method, path, token=customer_token, **kw), 403, "forbidden")
    # nothing changed, nothing created
    assert get_promo_code(admin_api, code["id"]) == code
    if method == "POST":
        assert_status(admin_api.post(PROMO_CODES, json=promo_body(code=body["code"])), 201)


@pytest.mark.parametrize(
    "method,path,allowed",
    [("PATCH", PROMO_CODES, {"GET", "POST"}), ("DELETE", PROMO_CODES, {"GET", "POST"}),
     ("POST", promo_code_path(1), {"GET", "PUT", "DELETE"}), ("PATCH", promo_code_path(1), {"GET", "PUT", "DELETE"})],
)
def test_wrong_method_is_405(api, admin_token, method, path, allowed):
    r = api.request(method, path, token=admin_token)
    assert_error(r, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, describe(r)


# ---------------------------------------------------------------- create, read


def test_create_with_defaults(admin_api):
    text = "Save-" + unique_code()[3:15].lower()
    r = admin_api.post(PROMO_CODES, json={"code": text, "kind": "percent", "value": 10})
    c = assert_promo_code(assert_status(r, 201))
    assert urlparse(r.headers.get("Location", "")).path == promo_code_path(c["id"]), describe(r)
    assert c["code"] == text  # as the admin wrote it
    assert (c["kind"], c["value"], c["min_subtotal"]) == ("percent", D("10.00"), D("0.00")), c
    assert (c["max_redemptions"], c["max_per_user"], c["starts_at"], c["ends_at"]) == (None, None, None, None), c
    assert c["active"] is True and c["redemptions"] == 0, c
    assert_recent(c["created_at"])
    assert assert_status(admin_api.get(promo_code_path(c["id"])), 200) == c


def test_create_with_every_field(admin_api):
    body = promo_body(kind="amount", value=D("99999999.99"), min_subtotal=D("25.50"), max_redemptions=1_000_000_000,
                      max_per_user=1, starts_at="2030-01-01T02:00:00+02:00", ends_at="2030-02-01T00:00:00Z")
    c = assert_promo_code(assert_status(admin_api.post(PROMO_CODES, json=body), 201))
    assert c["value"] == D("99999999.99") and c["min_subtotal"] == D("25.50"), c
    assert c["max_redemptions"] == 1_000_000_000 and c["max_per_user"] == 1, c
    assert c["starts_at"] == "2030-01-01T00:00:00Z" and c["ends_at"] == "2030-02-01T00:00:00Z", c
    assert c["active"] is False, c  # not yet started
    # read back from the database: the same (its bounds are at midnight UTC)
    assert get_promo_code(admin_api, c["id"]) == c


@pytest.mark.parametrize(
    "window,active",
    [
        ((-DAY, DAY), True),
        ((None, DAY), True),
        ((-DAY, None), True),
        ((DAY, 2 * DAY), False),
        ((DAY, None), False),
        ((-2 * DAY, -DAY), False),
        ((None, -DAY), False),
    ],
    ids=["inside", "open start", "open end", "future", "future open end", "past", "ended open start"],
)
def test_active_is_now_within_the_window(admin_api, window, active):
    starts, ends = (None if d is None else _ts(d) for d in window)
    c = assert_promo_code(assert_status(admin_api.post(PROMO_CODES, json=promo_body(starts_at=starts, ends_at=ends)),
                                        201))
    assert c["active"] is active, c
    assert c["starts_at"] == starts and c["ends_at"] == ends, c
    assert get_promo_code(admin_api, c["id"]) == c


@pytest.mark.parametrize("kind,value", [("percent", "0.01"), ("percent", "100.00"), ("percent", "100"),
                                        ("amount", "0.01"), ("amount", "99999999.99")])
def test_value_edges_accepted(admin_api, kind, value):
    c = assert_promo_code(assert_status(admin_api.post(PROMO_CODES, json=promo_body(kind=kind, value=RawNumber(value))),
                                        201))
    assert c["value"] == D(value), c


@pytest.mark.parametrize("text", ["abc", "A" * 32, "a_b-C9", "___", "0-0"], ids=param_id)
def test_code_text_edges_accepted(admin_api, text):
    # fixed texts: the stack's database is new for every run and no other test uses them
    r = admin_api.post(PROMO_CODES, json=promo_body(code=text))
    assert assert_promo_code(assert_status(r, 201))["code"] == text


# Each case: (extra/override fields, expected error.field)
INVALID = [
    ({"code": None}, "code"),
    ({"code": 123}, "code"),
    ({"code": ""}, "code"),
    ({"code": "ab"}, "code"),
    ({"code": "A" * 33}, "code"),
    ({"code": "SAVE 10"}, "code"),
    ({"code": "SAVE!10"}, "code"),
    ({"code": "SAVE.10"}, "code"),
    ({"code": "SÄVE10"}, "code"),
    ({"kind": "fixed"}, "kind"),
    ({"kind": None}, "kind"),
    ({"kind": 1}, "kind"),
    ({"value": 0}, "value"),
    ({"value": RawNumber("0.00")}, "value"),
    ({"value": -1}, "value"),
    ({"value": RawNumber("100.01")}, "value"),
    ({"value": RawNumber("10.005")}, "value"),
    ({"value": "10"}, "value"),
    ({"value": None}, "value"),
    ({"value": True}, "value"),
    ({"kind": "amount", "value": RawNumber("100000000.00")}, "value"),
    ({"kind": "amount", "value": RawNumber("1.005")}, "value"),
    ({"kind": "amount", "value": 0}, "value"),
    ({"min_subtotal": -1}, "min_subtotal"),
    ({"min_subtotal": RawNumber("1.001")}, "min_subtotal"),
    ({"min_subtotal": "5"}, "min_subtotal"),
    ({"min_subtotal": RawNumber("100000000.00")}, "min_subtotal"),
    ({"min_subtotal": True}, "min_subtotal"),
    ({"max_redemptions": 0}, "max_redemptions"),
    ({"max_redemptions": -1}, "max_redemptions"),
    ({"max_redemptions": 1_000_000_001}, "max_redemptions"),
    ({"max_redemptions": RawNumber("1.5")}, "max_redemptions"),
    ({"max_redemptions": "5"}, "max_redemptions"),
    ({"max_redemptions": True}, "max_redemptions"),
    ({"max_per_user": 0}, "max_per_user"),
    ({"max_per_user": 1_000_000_001}, "max_per_user"),
    ({"max_per_user": RawNumber("2.5")}, "max_per_user"),
    ({"max_per_user": "1"}, "max_per_user"),
    ({"starts_at": "yesterday"}, "starts_at"),
    ({"starts_at": "2026-13-01T00:00:00Z"}, "starts_at"),
    ({"starts_at": 5}, "starts_at"),
    ({"ends_at": "not a time"}, "ends_at"),
    ({"ends_at": 1767225600}, "ends_at"),
    ({"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "2030-01-01T01:00:00+02:00", "ends_at": "2029-12-31T23:00:00Z"}, "ends_at"),
]


@pytest.mark.parametrize("fields,field", INVALID, ids=[param_id(f) for f, _ in INVALID])
def test_invalid_field_is_422_on_post_and_put(admin_api, make_promo_code, fields, field):
    body = promo_body(**fields)
    assert_error(admin_api.post(PROMO_CODES, json=body), 422, "validation_failed", field=field)
    code = make_promo_code()
    assert_error(admin_api.put(promo_code_path(code["id"]), json=body), 422, "validation_failed", field=field)
    assert get_promo_code(admin_api, code["id"]) == code


@pytest.mark.parametrize("missing", ["code", "kind", "value"])
def test_missing_required_field_is_422(admin_api, missing):
    body = promo_body()
    del body[missing]
    assert_error(admin_api.post(PROMO_CODES, json=body), 422, "validation_failed", field=missing)


@pytest.mark.parametrize("extra", [{"active": True}, {"redemptions": 0}, {"id": 5}, {"note": "x"}], ids=param_id)
def test_unknown_field_is_422(admin_api, extra):
    body = promo_body(**extra)
    assert_error(admin_api.post(PROMO_CODES, json=body), 422, "validation_failed", field=ANY_FIELD)
    # the code was not created: its text is still free
    assert_status(admin_api.post(PROMO_CODES, json=promo_body(code=body["code"])), 201)


@pytest.mark.parametrize("body", [[], "SAVE10", 10, None], ids=param_id)
def test_body_not_an_object_is_422(admin_api, body):
    assert_error(admin_api.post(PROMO_CODES, json=body), 422, "validation_failed")


def test_invalid_json_is_400_and_wrong_content_type_415(admin_api):
    r = admin_api.post(PROMO_CODES, data=b'{"code": "ABC", ', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    r = admin_api.post(PROMO_CODES, data=b'{"code": "ABCDEF", "kind": "percent", "value": 5}',
                       headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


# ---------------------------------------------------------------- 409 promo_code_taken


def test_code_taken_without_regard_to_case(admin_api, make_promo_code):
    text = unique_code("Taken")
    first = make_promo_code(code=text)
    for variant in (text, text.lower(), text.upper(), text.swapcase()):
        assert_error(admin_api.post(PROMO_CODES, json=promo_body(code=variant)), 409, "promo_code_taken")
    other = make_promo_code()
    # PUT of another code to this text: 409, nothing changes
    assert_error(admin_api.put(promo_code_path(other["id"]), json=promo_body(code=text.lower())), 409,
                 "promo_code_taken")
    assert get_promo_code(admin_api, other["id"]) == other
    # PUT of the code to its own text (even in another case) is no conflict
    again = assert_promo_code(assert_status(
        admin_api.put(promo_code_path(first["id"]), json=promo_body(code=text.lower(), value=D("20.00"))), 200))
    assert again["code"] == text.lower() and again["value"] == D("20.00"), again


def test_deleted_code_text_can_be_used_again(admin_api, make_promo_code):
    text = unique_code("Again")
    first = make_promo_code(code=text)
    assert_status(admin_api.delete(promo_code_path(first["id"])), 204)
    second = assert_promo_code(assert_status(admin_api.post(PROMO_CODES, json=promo_body(code=text.lower())), 201))
    assert second["id"] != first["id"] and second["code"] == text.lower(), second
    # and a third time is taken again
    assert_error(admin_api.post(PROMO_CODES, json=promo_body(code=text)), 409, "promo_code_taken")


# ---------------------------------------------------------------- 404, list, PUT, DELETE


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "99999999999999999999999"])
def test_bad_path_id_is_404(admin_api, raw):
    for method, kw in (("GET", {}), ("PUT", {"json": promo_body()}), ("DELETE", {})):
        assert_error(admin_api.request(method, promo_code_path(raw), **kw), 404, {"not_found", "promo_code_not_found"})


def test_unknown_and_deleted_code_is_404(admin_api, make_promo_code):
    code = make_promo_code()
    assert_status(admin_api.delete(promo_code_path(code["id"])), 204)
    for code_id in (code["id"], MISSING_ID):
        assert_error(admin_api.get(promo_code_path(code_id)), 404, "promo_code_not_found")
        assert_error(admin_api.put(promo_code_path(code_id), json=promo_body()), 404, "promo_code_not_found")
        assert_error(admin_api.delete(promo_code_path(code_id)), 404, "promo_code_not_found")


def test_list_pages_live_codes_by_ascending_id(admin_api, make_promo_code):
    codes = [make_promo_code() for _ in range(5)]
    ids = [c["id"] for c in codes]
    assert ids == sorted(ids)
    assert_status(admin_api.delete(promo_code_path(ids[2])), 204)
    live = [c for c in codes if c["id"] != ids[2]]
    seen, after, pages = [], ids[0] - 1, 0
    while True:
        body = assert_status(admin_api.get(PROMO_CODES, params={"limit": 2, "after": after}), 200)
        assert set(body) == {"items", "next_after"}, body
        assert len(body["items"]) <= 2
        for c in body["items"]:
            assert_promo_code(c)
        seen.extend(body["items"])
        pages += 1
        if body["next_after"] is None:
            break
        assert len(body["items"]) == 2 and body["next_after"] == body["items"][-1]["id"], body
        after = body["next_after"]
        assert pages < 1000
    seen_ids = [c["id"] for c in seen]
    assert seen_ids == sorted(set(seen_ids)), seen_ids
    assert ids[2] not in seen_ids
    mine = [c for c in seen if c["id"] in set(ids)]
    assert mine == live, (mine, live)
    # default page size 20; `after` beyond the last: empty
    default = assert_status(admin_api.get(PROMO_CODES, params={"after": ids[0] - 1}), 200)
    assert len(default["items"]) <= 20
    tail = assert_status(admin_api.get(PROMO_CODES, params={"after": 2**53}), 200)
    assert tail == {"items": [], "next_after": None}, tail


@pytest.mark.parametrize("params,field", [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"),
                                          ({"limit": "x"}, "limit"), ({"after": "-1"}, "after"),
                                          ({"after": "abc"}, "after")])
def test_bad_pagination_params_422(admin_api, params, field):
    assert_error(admin_api.get(PROMO_CODES, params=params), 422, "validation_failed", field=field)


def test_put_replaces_every_field(admin_api, make_promo_code):
    code = make_promo_code(kind="amount", value=D("5.00"), min_subtotal=D("20.00"), max_redemptions=10,
                           max_per_user=2, starts_at=_ts(-DAY), ends_at=_ts(DAY))
    new_text = unique_code("Put")
    r = admin_api.put(promo_code_path(code["id"]), json={"code": new_text, "kind": "percent", "value": 15})
    c = assert_promo_code(assert_status(r, 200))
    assert c["id"] == code["id"] and c["code"] == new_text and c["created_at"] == code["created_at"], c
    # omitted optional fields go back to their defaults
    assert (c["kind"], c["value"], c["min_subtotal"], c["max_redemptions"], c["max_per_user"], c["starts_at"],
            c["ends_at"]) == ("percent", D("15.00"), D("0.00"), None, None, None, None), c
    assert parse_ts(c["updated_at"]) >= parse_ts(code["updated_at"])
    assert get_promo_code(admin_api, code["id"]) == c
    # the old text is free again
    assert_status(admin_api.post(PROMO_CODES, json=promo_body(code=code["code"])), 201)


def test_delete_is_204(admin_api, make_promo_code):
    code = make_promo_code()
    r = admin_api.delete(promo_code_path(code["id"]))
    assert_status(r, 204)
    listed = assert_status(admin_api.get(PROMO_CODES, params={"after": code["id"] - 1, "limit": 1}), 200)
    assert all(c["id"] != code["id"] for c in listed["items"]), listed


# ---------------------------------------------------------------- applying a code to a cart


@pytest.fixture
def carted(api, make_product, new_user):
    """A customer with one line (2 x 10.00) in the cart."""
    p = make_product(price=D("10.00"), stock=100)
    user = new_user("pcart")
    fill_cart(api, user["token"], (p["id"], 2))
    user["product"] = p
    return user


def test_apply_code_any_case_gives_its_text(api, admin_api, make_promo_code, carted):
    text = "Mixed" + unique_code()[3:12].lower()
    code = make_promo_code(code=text, kind="percent", value=D("10.00"))
    for variant in (text.upper(), text.lower(), text):
        cart = assert_cart(assert_status(apply_code(api, variant, token=carted["token"]), 200),
                           promo_code=text, applies=True)
        assert amounts(cart) == {"subtotal": D("20.00"), "discount": D("2.00"), "delivery": 0, "tax": 0,
                                 "total": D("18.00")}, cart
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 0  # applying redeems nothing


def test_apply_replaces_the_code(api, make_promo_code, carted):
    a = make_promo_code(kind="percent", value=D("10.00"))
    b = make_promo_code(kind="amount", value=D("5.00"))
    assert_status(apply_code(api, a["code"], token=carted["token"]), 200)
    cart = assert_cart(assert_status(apply_code(api, b["code"], token=carted["token"]), 200), promo_code=b["code"],
                       applies=True)
    assert cart["discount"] == D("5.00"), cart
    cart = assert_cart(assert_status(api.delete("/api/v1/cart/promo-code", token=carted["token"]), 200),
                       promo_code=None, applies=False)
    assert cart["discount"] == 0 and cart["total"] == D("20.00")


@pytest.mark.parametrize("state", ["unknown", "deleted", "not started", "ended", "ended open start"])
def test_apply_invalid_code_is_422(api, admin_api, make_promo_code, carted, state):
    fill_cart(api, carted["token"], code=make_promo_code()["code"])  # a valid code already on the cart
    before = get_cart(api, carted["token"])
    if state == "unknown":
        text = unique_code("Nope")
    else:
        fields = {"not started": {"starts_at": _ts(DAY)}, "ended": {"starts_at": _ts(-2 * DAY), "ends_at": _ts(-DAY)},
                  "ended open start": {"ends_at": _ts(-DAY)}}.get(state, {})
        code = make_promo_code(**fields)
        text = code["code"]
        if state == "deleted":
            assert_status(admin_api.delete(promo_code_path(code["id"])), 204)
    for variant in (text, text.lower()):
        assert_error(apply_code(api, variant, token=carted["token"]), 422, "promo_code_invalid", field="code")
    assert get_cart(api, carted["token"]) == before  # the cart keeps its code


@pytest.mark.parametrize("text", ["", "x", "no such code at all", "💸"], ids=param_id)
def test_apply_any_unknown_text_is_422_invalid(api, carted, text):
    assert_error(apply_code(api, text, token=carted["token"]), 422, "promo_code_invalid", field="code")


def test_apply_used_up_code_is_409(api, make_product, make_promo_code, new_user, carted):
    p = carted["product"]
    code = make_promo_code(max_redemptions=1)
    first = new_user("pfirst")
    assert_status(place_order(api, {"items": [{"product_id": p["id"], "quantity": 1}], "promo_code": code["code"]},
                              token=first["token"]), 201)
    before = get_cart(api, carted["token"])
    assert_error(apply_code(api, code["code"], token=carted["token"]), 409, "promo_code_exhausted")
    assert get_cart(api, carted["token"]) == before


def test_apply_code_used_up_by_this_user_is_409(api, make_promo_code, new_user, carted):
    p = carted["product"]
    code = make_promo_code(max_per_user=1)
    # another user may still apply it; this user used it once in a direct order
    other = new_user("pother")
    fill_cart(api, other["token"], (p["id"], 1), code=code["code"])
    assert_status(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]},
                              token=carted["token"]), 201)
    assert_error(apply_code(api, code["code"], token=carted["token"]), 409, "promo_code_exhausted")
    # the other user's cart still shows it applying
    assert_cart(get_cart(api, other["token"]), promo_code=code["code"], applies=True)


def test_apply_code_below_its_minimum_stays_without_discount(api, make_promo_code, carted):
    code = make_promo_code(kind="amount", value=D("5.00"), min_subtotal=D("20.01"))
    cart = assert_cart(assert_status(apply_code(api, code["code"], token=carted["token"]), 200),
                       promo_code=code["code"], applies=False)
    assert cart["discount"] == 0 and cart["total"] == D("20.00"), cart
    assert_error(checkout(api, carted["token"]), 409, "promo_code_not_applicable")
    assert_cart(get_cart(api, carted["token"]), promo_code=code["code"], applies=False)
    # a code with exactly the cart's subtotal as its minimum applies
    exact = make_promo_code(kind="amount", value=D("5.00"), min_subtotal=D("20.00"))
    assert_cart(assert_status(apply_code(api, exact["code"], token=carted["token"]), 200), applies=True)


def test_deleted_code_stops_applying_and_orders_keep_it(api, admin_api, make_promo_code, new_user, carted):
    p = carted["product"]
    code = make_promo_code(kind="percent", value=D("50.00"))
    buyer = new_user("pkeep")
    o = assert_order(assert_status(place_order(
        api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]}, token=buyer["token"]), 201))
    assert o["promo_code"] == code["code"] and o["discount"] == D("5.00"), o
    fill_cart(api, carted["token"], code=code["code"])
    stock = product_stock(api, p["id"])
    assert_status(admin_api.delete(promo_code_path(code["id"])), 204)

    cart = assert_cart(get_cart(api, carted["token"]), promo_code=code["code"], applies=False)
    assert cart["discount"] == 0 and cart["total"] == D("20.00"), cart
    assert_error(checkout(api, carted["token"]), 409, "promo_code_invalid")
    assert_cart(get_cart(api, carted["token"]), lines=[(p["id"], 2)], promo_code=code["code"], applies=False)
    assert product_stock(api, p["id"]) == stock
    kept = assert_order(assert_status(api.get(order_path(o["id"]), token=buyer["token"]), 200))
    assert kept["promo_code"] == code["code"] and kept["discount"] == D("5.00") and kept["total"] == D("5.00"), kept
    # without the code the cart checks out
    assert_status(api.delete("/api/v1/cart/promo-code", token=carted["token"]), 200)
    assert_order(assert_status(checkout(api, carted["token"]), 201))


def test_window_bounds_at_midnight_utc_are_kept(api, admin_api, make_product, make_promo_code, new_user):
    """A bound at 00:00:00 UTC is a bound like any other: read back, listed, and enforced by carts,
    checkout and direct orders."""
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT00:00:00Z")  # already past
    later = (dt.datetime.now(dt.timezone.utc) + 2 * DAY).strftime("%Y-%m-%dT00:00:00Z")  # not yet
    p = make_product(price=D("10.00"), stock=10)
    buyer = new_user("pmid")
    fill_cart(api, buyer["token"], (p["id"], 1))
    for fields in ({"ends_at": today}, {"starts_at": later}, {"starts_at": "2099-01-01T00:00:00Z"}):
        code = make_promo_code(**fields)
        assert code["active"] is False, code
        again = get_promo_code(admin_api, code["id"])
        assert again == code, f"POST answered {code}, GET answers {again}"
        listed = assert_status(admin_api.get(PROMO_CODES, params={"after": code["id"] - 1, "limit": 1}), 200)
        assert listed["items"] == [code], listed
        assert_error(apply_code(api, code["code"], token=buyer["token"]), 422, "promo_code_invalid", field="code")
        assert_error(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]},
                                 token=buyer["token"]), 409, "promo_code_invalid")
    assert product_stock(api, p["id"]) == 10


def test_code_ended_or_not_started_by_put_stops_applying(api, admin_api, make_promo_code, carted):
    code = make_promo_code(kind="amount", value=D("1.00"))
    fill_cart(api, carted["token"], code=code["code"])
    for window in ({"ends_at": _ts(-DAY)}, {"starts_at": _ts(DAY)}):
        c = assert_promo_code(assert_status(
            admin_api.put(promo_code_path(code["id"]), json=promo_body(code=code["code"], kind="amount",
                                                                       value=D("1.00"), **window)), 200))
        assert c["active"] is False, c
        assert_cart(get_cart(api, carted["token"]), promo_code=code["code"], applies=False)
        assert_error(checkout(api, carted["token"]), 409, "promo_code_invalid")
        assert_cart(get_cart(api, carted["token"]), lines=[(carted["product"]["id"], 2)], promo_code=code["code"])
    assert_status(admin_api.put(promo_code_path(code["id"]), json=promo_body(code=code["code"], kind="amount",
                                                                            value=D("1.00"))), 200)
    assert_cart(get_cart(api, carted["token"]), applies=True)


# ---------------------------------------------------------------- redemptions


def test_redemptions_count_non_cancelled_orders_and_put_keeps_them(api, admin_api, make_product, make_promo_code,
                                                                   new_user):
    p = make_product(price=D("10.00"), stock=50)
    code = make_promo_code(kind="amount", value=D("1.00"), max_redemptions=3)
    buyers = [new_user("pred") for _ in range(3)]
    orders = []
    for b in buyers:
        fill_cart(api, b["token"], (p["id"], 1), code=code["code"])
        orders.append(assert_order(assert_status(checkout(api, b["token"]), 201)))
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 3
    late = new_user("plate")
    fill_cart(api, late["token"], (p["id"], 1))
    assert_error(apply_code(api, code["code"], token=late["token"]), 409, "promo_code_exhausted")
    assert_error(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]},
                             token=late["token"]), 409, "promo_code_exhausted")

    # cancel gives the redemption back: the code can be used again
    assert_status(api.post(cancel_path(orders[0]["id"]), token=buyers[0]["token"]), 200)
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 2
    fill_cart(api, late["token"], code=code["code"])
    o = assert_order(assert_status(checkout(api, late["token"]), 201))
    assert o["promo_code"] == code["code"] and o["discount"] == D("1.00"), o
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 3

    # PUT keeps redemptions; lowering max_redemptions below them is allowed: the code is used up
    c = assert_promo_code(assert_status(admin_api.put(promo_code_path(code["id"]), json=promo_body(
        code=code["code"], kind="amount", value=D("1.00"), max_redemptions=1)), 200))
    assert c["redemptions"] == 3 and c["max_redemptions"] == 1, c
    again = new_user("pagain")
    fill_cart(api, again["token"], (p["id"], 1))
    assert_error(apply_code(api, code["code"], token=again["token"]), 409, "promo_code_exhausted")
    assert_status(admin_api.put(promo_code_path(code["id"]), json=promo_body(
        code=code["code"], kind="amount", value=D("1.00"), max_redemptions=4)), 200)
    assert_cart(assert_status(apply_code(api, code["code"], token=again["token"]), 200), applies=True)
    # a cart holding a code that got used up meanwhile shows it not applying
    assert_status(admin_api.put(promo_code_path(code["id"]), json=promo_body(
        code=code["code"], kind="amount", value=D("1.00"), max_redemptions=3)), 200)
    cart = assert_cart(get_cart(api, again["token"]), promo_code=code["code"], applies=False)
    assert cart["discount"] == 0, cart
    assert_error(checkout(api, again["token"]), 409, "promo_code_exhausted")


def test_max_per_user_counts_this_users_orders(api, admin_api, make_product, make_promo_code, new_user):
    p = make_product(price=D("10.00"), stock=50)
    code = make_promo_code(kind="amount", value=D("2.00"), max_per_user=2)
    user = new_user("ppu")
    first = assert_order(assert_status(place_order(
        api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]}, token=user["token"]), 201))
    fill_cart(api, user["token"], (p["id"], 1), code=code["code"])
    assert_order(assert_status(checkout(api, user["token"]), 201))
    # two uses: used up for this user (cart and direct), not for another
    fill_cart(api, user["token"], (p["id"], 1))
    assert_error(apply_code(api, code["code"], token=user["token"]), 409, "promo_code_exhausted")
    assert_error(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]},
                             token=user["token"]), 409, "promo_code_exhausted")
    other = new_user("ppu2")
    fill_cart(api, other["token"], (p["id"], 1), code=code["code"])
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 2
    # cancelling one of the user's orders gives one use back
    assert_status(api.post(cancel_path(first["id"]), token=user["token"]), 200)
    assert_cart(assert_status(apply_code(api, code["code"], token=user["token"]), 200), applies=True)
    assert_order(assert_status(checkout(api, user["token"]), 201))
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 2


# ---------------------------------------------------------------- POST /api/v1/orders with promo_code


def test_direct_order_with_code(api, admin_api, make_product, make_promo_code, new_user):
    p = make_product(price=D("19.99"), stock=10)
    code = make_promo_code(kind="percent", value=D("10.00"))
    buyer = new_user("pdir")
    body = {"items": [{"product_id": p["id"], "quantity": 2}], "promo_code": code["code"].lower()}
    r = place_order(api, body, token=buyer["token"])
    o = assert_order(assert_status(r, 201), user_id=buyer["user"]["id"], status="pending")
    assert o["promo_code"] == code["code"], o  # its text as the admin created it
    assert amounts(o) == {"subtotal": D("39.98"), "discount": D("4.00"), "delivery": 0, "tax": 0,
                          "total": D("35.98")}, o
    assert product_stock(api, p["id"]) == 8
    assert get_promo_code(admin_api, code["id"])["redemptions"] == 1
    listed = assert_status(api.get(ORDERS, token=buyer["token"]), 200)["items"]
    assert [x["id"] for x in listed] == [o["id"]] and listed[0]["promo_code"] == code["code"], listed
    # without a code: none
    plain = assert_order(assert_status(place_order(api, order_body((p["id"], 1)), token=buyer["token"]), 201))
    assert plain["promo_code"] is None and plain["discount"] == 0, plain


@pytest.mark.parametrize("value", [123, True, [], {}, RawNumber("1.5")], ids=param_id)
def test_direct_order_promo_code_not_a_string_is_422(api, make_product, new_user, value):
    p = make_product(stock=5)
    buyer = new_user("pdir422")
    for body in ({"items": [{"product_id": p["id"], "quantity": 1}], "promo_code": value},
                 {"product_id": p["id"], "quantity": 1, "promo_code": value}):
        assert_error(place_order(api, body, token=buyer["token"]), 422, "validation_failed", field="promo_code")
    assert product_stock(api, p["id"]) == 5


@pytest.mark.parametrize("state", ["unknown", "deleted", "not started", "ended", "exhausted", "exhausted for user",
                                   "below minimum"])
def test_direct_order_with_unusable_code_is_409_and_changes_nothing(api, admin_api, make_product, make_promo_code,
                                                                    new_user, state):
    p = make_product(price=D("10.00"), stock=10)
    buyer = new_user("pdir409")
    other = new_user("pdiro")
    fields = {"not started": {"starts_at": _ts(DAY)}, "ended": {"ends_at": _ts(-DAY)},
              "exhausted": {"max_redemptions": 1}, "exhausted for user": {"max_per_user": 1},
              "below minimum": {"min_subtotal": D("10.01")}}.get(state, {})
    if state == "unknown":
        text, code = unique_code("Nope"), None
    else:
        code = make_promo_code(kind="amount", value=D("1.00"), **fields)
        text = code["code"]
    if state == "deleted":
        assert_status(admin_api.delete(promo_code_path(code["id"])), 204)
    if state == "exhausted":
        assert_status(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": text},
                                  token=other["token"]), 201)
    if state == "exhausted for user":
        assert_status(place_order(api, {"product_id": p["id"], "quantity": 1, "promo_code": text},
                                  token=buyer["token"]), 201)
    expected = {"unknown": "promo_code_invalid", "deleted": "promo_code_invalid", "not started": "promo_code_invalid",
                "ended": "promo_code_invalid", "exhausted": "promo_code_exhausted",
                "exhausted for user": "promo_code_exhausted", "below minimum": "promo_code_not_applicable"}[state]
    stock = product_stock(api, p["id"])
    mine = assert_status(api.get(ORDERS, token=buyer["token"]), 200)["items"]
    redemptions = get_promo_code(admin_api, code["id"])["redemptions"] if code and state != "deleted" else None
    key = "pdir-" + unique_code()
    r = place_order(api, {"items": [{"product_id": p["id"], "quantity": 1}], "promo_code": text},
                    token=buyer["token"], key=key)
    assert_error(r, 409, expected)
    assert product_stock(api, p["id"]) == stock
    # No order more, none changed (the worker may move an earlier one from pending to processed).
    after = assert_status(api.get(ORDERS, token=buyer["token"]), 200)["items"]
    assert [o["id"] for o in after] == [o["id"] for o in mine], after
    for later, first in zip(after, mine):
        assert_same_order(later, first)
    if redemptions is not None:
        assert get_promo_code(admin_api, code["id"])["redemptions"] == redemptions
    # nothing stored under the key: the same key with a plain body is a first use
    r = place_order(api, order_body((p["id"], 1)), token=buyer["token"], key=key)
    o = assert_order(assert_status(r, 201))
    assert r.headers.get("Idempotent-Replayed", "").lower() != "true" and o["promo_code"] is None, describe(r)


def test_promo_code_is_part_of_the_idempotency_fingerprint(api, make_product, make_promo_code, new_user):
    p = make_product(price=D("10.00"), stock=10)
    a = make_promo_code(kind="amount", value=D("1.00"))
    b = make_promo_code(kind="amount", value=D("2.00"))
    buyer = new_user("pidem")
    key = "pidem-" + unique_code()
    body = {"items": [{"product_id": p["id"], "quantity": 1}], "promo_code": a["code"]}
    first = place_order(api, body, token=buyer["token"], key=key)
    o = assert_order(assert_status(first, 201))
    again = place_order(api, body, token=buyer["token"], key=key)
    assert_status(again, 201)
    assert again.headers.get("Idempotent-Replayed", "").lower() == "true" and again.json()["id"] == o["id"]
    for changed in ({"items": body["items"]}, {**body, "promo_code": b["code"]}):
        assert_error(place_order(api, changed, token=buyer["token"], key=key), 422, "idempotency_key_reused")
    assert product_stock(api, p["id"]) == 9
