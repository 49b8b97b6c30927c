"""The HTTP client of the suites and the checks of what the API answers.

`Api` talks to the stack through nginx (STOCKROOM_URL); the `assert_*` functions check the
contract's shapes (errors, products, users, orders) exactly; the helpers below them register and
log in users and place and follow orders. Only the standard library and `requests`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests

from .stack import base_url, run_ctl

TIMEOUT = 10  # seconds, for every HTTP request
PASSWORD = "correct-horse-9"
ERROR_EXTRA_KEYS = {"field", "product_id", "available"}
PRODUCT_KEYS = {"id", "name", "price", "stock", "created_at", "updated_at"}
USER_KEYS = {"id", "username", "role", "created_at"}

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)$"
)

_NOTHING = object()


# --------------------------------------------------------------------------
# HTTP client


class Api:
    """A thin client bound to the stack's base URL; one keep-alive connection pool.

    `json=` sends a JSON body with Content-Type application/json; `data=` sends
    raw bytes/str with whatever headers are given. `token=` adds a Bearer header.
    Every request has a timeout.
    """

    def __init__(self, url: str | None = None, token: str | None = None):
        self.url = url or base_url()
        self.token = token
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _NOTHING,
        data: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        timeout: float = TIMEOUT,
    ) -> requests.Response:
        hdrs: dict[str, str] = {}
        bearer = token if token is not None else self.token
        if bearer is not None:
            hdrs["Authorization"] = f"Bearer {bearer}"
        if json is not _NOTHING:
            data = _json_dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        return self.session.request(
            method,
            self.url + path,
            data=data,
            headers=hdrs,
            params=params,
            timeout=timeout,
            allow_redirects=False,
        )

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)


def _json_dumps(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            # Emitted as a bare number literal (see RawNumber below).
            return RawNumber(str(o))
        raise TypeError(type(o))

    text = json.dumps(value, ensure_ascii=False, default=default)
    # RawNumber values are encoded as '"\x00num:...\x00"' placeholders; unquote them.
    return re.sub(r'"\\u0000num:([^"\\]*)\\u0000"', r"\1", text)


class RawNumber(str):
    """A number literal sent verbatim, e.g. RawNumber("100000000.00")."""

    def __new__(cls, literal: str) -> "RawNumber":
        obj = str.__new__(cls, "\x00num:" + literal + "\x00")
        obj.literal = literal
        return obj

    def __repr__(self) -> str:
        return self.literal


def param_id(value: Any) -> str:
    """Readable pytest ids for parametrized bodies and values."""
    if isinstance(value, RawNumber):
        return value.literal
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------
# Response helpers


def describe(r: requests.Response) -> str:
    return (
        f"{r.request.method} {r.request.url} -> {r.status_code}\n"
        f"headers: {dict(r.headers)}\nbody: {r.content[:600]!r}"
    )


def jbody(r: requests.Response) -> Any:
    """The JSON body, UTF-8 decoded, with floats parsed as Decimal (exact money checks)."""
    try:
        return json.loads(r.content.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:  # pragma: no cover - diagnostic
        pytest.fail(f"response is not UTF-8 JSON ({exc}): {describe(r)}")


def assert_json_content_type(r: requests.Response) -> None:
    ctype = r.headers.get("Content-Type", "")
    media = ctype.split(";")[0].strip().lower()
    assert media == "application/json", f"Content-Type {ctype!r}: {describe(r)}"


def assert_status(r: requests.Response, status: int) -> Any:
    """Assert the status and (for bodies) the JSON content type; return the parsed body."""
    assert r.status_code == status, describe(r)
    if status == 204:
        assert r.content == b"", describe(r)
        return None
    assert_json_content_type(r)
    return jbody(r)


ANY_FIELD = object()


def assert_error(
    r: requests.Response, status: int, code: str | set[str], field: Any = None
) -> dict[str, Any]:
    """Exact error shape: {"error": {"code": str, "message": str, [field|product_id|available]}}.

    `code` may be a set of accepted codes. `field` is the expected value of
    error.field, or ANY_FIELD to require a string field of any value.
    """
    assert r.status_code == status, describe(r)
    assert_json_content_type(r)
    body = jbody(r)
    assert isinstance(body, dict) and set(body) == {"error"}, describe(r)
    err = body["error"]
    assert isinstance(err, dict), describe(r)
    assert isinstance(err.get("code"), str), describe(r)
    assert isinstance(err.get("message"), str) and err["message"].strip(), describe(r)
    extra = set(err) - {"code", "message"}
    assert extra <= ERROR_EXTRA_KEYS, f"unexpected keys {extra}: {describe(r)}"
    if isinstance(code, set):
        assert err["code"] in code, describe(r)
    else:
        assert err["code"] == code, describe(r)
    if field is ANY_FIELD:
        assert isinstance(err.get("field"), str) and err["field"], describe(r)
    elif field is not None:
        assert err.get("field") == field, describe(r)
    return err


def assert_unauthorized(r: requests.Response) -> None:
    assert_error(r, 401, "unauthorized")
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.split(" ")[0].split(",")[0].lower() == "bearer", describe(r)


def parse_ts(value: Any) -> dt.datetime:
    assert isinstance(value, str) and _RFC3339.match(value), f"not an RFC 3339 UTC timestamp: {value!r}"
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_recent(value: Any, slack: float = 300) -> dt.datetime:
    ts = parse_ts(value)
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - ts).total_seconds()) < slack, f"{value} is not close to now ({now.isoformat()})"
    return ts


def assert_money(value: Any) -> Decimal:
    """A JSON number (not a string, not a bool) with at most two decimals."""
    assert isinstance(value, (int, Decimal)) and not isinstance(value, bool), f"price {value!r} is not a JSON number"
    d = Decimal(value)
    assert d == d.quantize(Decimal("0.01")), f"price {value!r} has more than two decimals"
    return d


def assert_product(p: Any) -> dict[str, Any]:
    assert isinstance(p, dict) and set(p) == PRODUCT_KEYS, f"product shape: {p!r}"
    assert isinstance(p["id"], int) and not isinstance(p["id"], bool) and p["id"] > 0, p
    assert isinstance(p["name"], str) and p["name"], p
    assert_money(p["price"])
    assert isinstance(p["stock"], int) and not isinstance(p["stock"], bool) and p["stock"] >= 0, p
    created = parse_ts(p["created_at"])
    updated = parse_ts(p["updated_at"])
    assert updated >= created, p
    return p


def assert_user(u: Any) -> dict[str, Any]:
    assert isinstance(u, dict) and set(u) == USER_KEYS, f"user shape: {u!r}"
    assert isinstance(u["id"], int) and not isinstance(u["id"], bool) and u["id"] > 0, u
    assert isinstance(u["username"], str), u
    assert u["role"] in ("customer", "admin"), u
    parse_ts(u["created_at"])
    return u


def unique_name(prefix: str = "u") -> str:
    """A fresh username-safe name (<= 32 chars of [A-Za-z0-9_.-])."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"[:32]


# --------------------------------------------------------------------------
# Users, sessions, admins


def register(api: Api, username: str, password: str = PASSWORD) -> requests.Response:
    return api.post("/api/v1/auth/register", json={"username": username, "password": password})


def login(api: Api, username: str, password: str = PASSWORD) -> requests.Response:
    return api.post("/api/v1/auth/login", json={"username": username, "password": password})


def login_token(api: Api, username: str, password: str = PASSWORD) -> str:
    body = assert_status(login(api, username, password), 200)
    return body["token"]


def new_customer(api: Api, prefix: str = "u", password: str = PASSWORD, with_token: bool = True) -> dict[str, Any]:
    """Register a fresh customer and (with_token) log in; returns dict(username, password, user, token)."""
    username = unique_name(prefix)
    user = assert_status(register(api, username, password), 201)
    token = login_token(api, username, password) if with_token else None
    return {"username": username, "password": password, "user": user, "token": token}


def create_admin(username: str, password: str = PASSWORD) -> None:
    proc = run_ctl("create-admin", username, stdin=password + "\n")
    assert proc.returncode == 0, (
        f"stockroomctl create-admin {username} failed ({proc.returncode}):\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    )


# --------------------------------------------------------------------------
# Orders (issue 3): shapes, requests, polling

ORDERS = "/api/v1/orders"
# Issue 10 added the pricing fields (subtotal, discount, delivery, tax, promo_code; total is the priced total).
ORDER_PRICING_KEYS = {"subtotal", "discount", "delivery", "tax", "promo_code"}
ORDER_KEYS = {"id", "user_id", "status", "items", "total", "created_at", "updated_at"} | ORDER_PRICING_KEYS
ORDER_ITEM_KEYS = {"product_id", "name", "quantity", "unit_price", "line_total"}
ORDER_STATUSES = ("pending", "processed", "cancelled")
MAX_ORDER_TOTAL = Decimal("9999999999.99")  # DECIMAL(12,2)


def order_path(order_id: Any) -> str:
    return f"{ORDERS}/{order_id}"


def cancel_path(order_id: Any) -> str:
    return f"{ORDERS}/{order_id}/cancel"


def order_body(*lines: tuple[int, int]) -> dict[str, Any]:
    """{"items": [...]} from (product_id, quantity) pairs, in the order given."""
    return {"items": [{"product_id": pid, "quantity": qty} for pid, qty in lines]}


def place_order(
    api: Api,
    body: Any,
    *,
    token: str | None = None,
    key: str | bytes | None = None,
    timeout: float = TIMEOUT,
) -> requests.Response:
    """POST /api/v1/orders with a JSON body and, when given, an Idempotency-Key header."""
    headers = {"Idempotency-Key": key} if key is not None else None
    return api.post(ORDERS, json=body, token=token, headers=headers, timeout=timeout)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _assert_priced_lines(items: list[Any], keys: set[str], what: str) -> Decimal:
    """The lines of an order or a cart: exact shape, line_total = unit_price x quantity, ascending
    distinct product_id. Returns the sum of the line totals."""
    total = Decimal("0.00")
    for item in items:
        assert isinstance(item, dict) and set(item) == keys, f"{what} item shape: {item!r}"
        assert _is_int(item["product_id"]) and item["product_id"] > 0, item
        assert isinstance(item["name"], str) and item["name"], item
        assert _is_int(item["quantity"]) and 1 <= item["quantity"] <= 1000, item
        unit = assert_money(item["unit_price"])
        line = assert_money(item["line_total"])
        assert line == unit * item["quantity"], f"line_total {line} != {unit} x {item['quantity']}: {item}"
        total += line
    pids = [item["product_id"] for item in items]
    assert pids == sorted(set(pids)), f"{what} items not in ascending, distinct product_id: {pids}"
    return total


def assert_order(o: Any, *, user_id: int | None = None, status: str | set[str] | None = None) -> dict[str, Any]:
    """Exact order shape; items in ascending product_id; line_total = unit_price x quantity;
    subtotal = sum of the lines; total = subtotal - discount + delivery + tax (issue 10)."""
    assert isinstance(o, dict) and set(o) == ORDER_KEYS, f"order shape: {o!r}"
    assert _is_int(o["id"]) and o["id"] > 0, o
    assert _is_int(o["user_id"]) and o["user_id"] > 0, o
    if user_id is not None:
        assert o["user_id"] == user_id, o
    assert o["status"] in ORDER_STATUSES, o
    if isinstance(status, set):
        assert o["status"] in status, o
    elif status is not None:
        assert o["status"] == status, o
    items = o["items"]
    assert isinstance(items, list) and 1 <= len(items) <= 50, o
    total = _assert_priced_lines(items, ORDER_ITEM_KEYS, "order")
    assert assert_money(o["subtotal"]) == total, f"subtotal {o['subtotal']} != sum of lines {total}: {o}"
    discount, delivery, tax = (assert_money(o[k]) for k in ("discount", "delivery", "tax"))
    assert Decimal(0) <= discount <= total and delivery >= 0 and tax >= 0, o
    assert assert_money(o["total"]) == total - discount + delivery + tax, (
        f"total {o['total']} != subtotal {total} - discount {discount} + delivery {delivery} + tax {tax}: {o}")
    assert o["promo_code"] is None or (isinstance(o["promo_code"], str) and o["promo_code"]), o
    if o["promo_code"] is None:
        assert discount == 0, f"a discount without a promo code: {o}"
    created = parse_ts(o["created_at"])
    updated = parse_ts(o["updated_at"])
    assert updated >= created, o
    return o


def assert_same_order(later: dict[str, Any], first: dict[str, Any]) -> None:
    """`later` is `first` read again: identical, except that the worker may have moved it from
    pending to processed in between (which changes status and may bump updated_at)."""
    if later["status"] == first["status"]:
        assert later == first, f"{later!r}\n!=\n{first!r}"
        return
    assert first["status"] == "pending" and later["status"] == "processed", (later, first)
    strip = lambda o: {k: v for k, v in o.items() if k not in ("status", "updated_at")}  # noqa: E731
    assert strip(later) == strip(first), f"{later!r}\n!=\n{first!r}"
    assert parse_ts(later["updated_at"]) >= parse_ts(first["updated_at"])


def product_stock(api: Api, product_id: int) -> int:
    """Current stock of a live product (GET through nginx)."""
    return assert_status(api.get(f"/api/v1/products/{product_id}"), 200)["stock"]


def restock(api: Api, product_id: int, quantity: int, token: str | None = None) -> dict[str, Any]:
    r = api.post(f"/api/v1/products/{product_id}/restock", json={"quantity": quantity}, token=token)
    return assert_status(r, 200)


def wait_order_status(
    api: Api, order_id: int, status: str, token: str | None = None, timeout: float = 10
) -> dict[str, Any]:
    """Poll GET /api/v1/orders/{id} until it has `status` (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = assert_status(api.get(order_path(order_id), token=token), 200)
        if last.get("status") == status:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"order {order_id} not {status} after {timeout} s: {last!r}")
        time.sleep(0.1)


def list_all_orders(api: Api, token: str | None = None, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Every order the token may see with id > after, walking the keyset pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        body = assert_status(api.get(ORDERS, token=token, params={"limit": limit, "after": after}), 200)
        assert isinstance(body, dict) and set(body) == {"items", "next_after"}, body
        items.extend(body["items"])
        if body["next_after"] is None:
            return items
        assert body["next_after"] == body["items"][-1]["id"], body
        after = body["next_after"]
        pages += 1
        assert pages < 10_000


# --------------------------------------------------------------------------
# Pricing, carts, promo codes, checkout (issue 10): shapes, the pricing rule, requests

PRICING = "/api/v1/store/pricing"
CART = "/api/v1/cart"
CART_ITEMS = "/api/v1/cart/items"
CART_PROMO = "/api/v1/cart/promo-code"
CHECKOUT = "/api/v1/cart/checkout"
PROMO_CODES = "/api/v1/promo-codes"

PRICING_KEYS = {"tax_rate", "delivery_fee", "free_delivery_from"}
CART_KEYS = {"items", "promo_code", "promo_code_applies", "subtotal", "discount", "delivery", "tax", "total", "updated_at"}
CART_ITEM_KEYS = ORDER_ITEM_KEYS
PROMO_CODE_KEYS = {"id", "code", "kind", "value", "min_subtotal", "max_redemptions", "max_per_user", "starts_at",
                   "ends_at", "active", "redemptions", "created_at", "updated_at"}
AMOUNT_KEYS = ("subtotal", "discount", "delivery", "tax", "total")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cart_item_path(product_id: Any) -> str:
    return f"{CART_ITEMS}/{product_id}"


def promo_code_path(code_id: Any) -> str:
    return f"{PROMO_CODES}/{code_id}"


def half_up(value: Decimal) -> Decimal:
    """Rounded half up to the cent (the contract's rounding)."""
    from decimal import ROUND_HALF_UP

    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_pricing(
    lines: list[tuple[Any, int]],
    code: dict[str, Any] | None = None,
    *,
    tax_rate: Any = 0,
    delivery_fee: Any = "0.00",
    free_delivery_from: Any = None,
) -> dict[str, Decimal]:
    """The contract's pricing rule, computed here in Decimal: `lines` are (unit_price, quantity);
    `code` is a promo code that applies ({"kind", "value"}) or None. Returns subtotal, discount,
    delivery, tax, total."""
    subtotal = sum((Decimal(str(p)) * q for p, q in lines), ZERO)
    discount = ZERO
    if code is not None and lines:
        value = Decimal(str(code["value"]))
        discount = half_up(subtotal * value / 100) if code["kind"] == "percent" else min(value, subtotal)
    if not lines:
        delivery = ZERO
    elif free_delivery_from is not None and subtotal - discount >= Decimal(str(free_delivery_from)):
        delivery = ZERO
    else:
        delivery = Decimal(str(delivery_fee))
    tax = half_up((subtotal - discount + delivery) * Decimal(str(tax_rate)) / 100)
    return {"subtotal": subtotal, "discount": discount, "delivery": delivery, "tax": tax,
            "total": subtotal - discount + delivery + tax}


def amounts(body: dict[str, Any]) -> dict[str, Decimal]:
    """subtotal, discount, delivery, tax, total of a cart or an order, as Decimals."""
    return {k: assert_money(body[k]) for k in AMOUNT_KEYS}


def assert_pricing(p: Any) -> dict[str, Any]:
    assert isinstance(p, dict) and set(p) == PRICING_KEYS, f"pricing shape: {p!r}"
    assert Decimal(0) <= assert_money(p["tax_rate"]) <= 100, p
    assert assert_money(p["delivery_fee"]) >= 0, p
    assert p["free_delivery_from"] is None or assert_money(p["free_delivery_from"]) >= 0, p
    return p


def assert_cart(c: Any, *, lines: list[tuple[int, int]] | None = None, promo_code: Any = _NOTHING,
                applies: bool | None = None) -> dict[str, Any]:
    """Exact cart shape; items by ascending product_id, line_total = unit_price x quantity; subtotal
    = sum of the lines; total = subtotal - discount + delivery + tax; an empty cart has every amount
    0 and promo_code_applies false. `lines`: the expected (product_id, quantity) pairs."""
    assert isinstance(c, dict) and set(c) == CART_KEYS, f"cart shape: {c!r}"
    items = c["items"]
    assert isinstance(items, list) and len(items) <= 50, c
    subtotal = _assert_priced_lines(items, CART_ITEM_KEYS, "cart")
    got = amounts(c)
    assert got["subtotal"] == subtotal, f"subtotal {got['subtotal']} != sum of lines {subtotal}: {c}"
    assert ZERO <= got["discount"] <= subtotal and got["delivery"] >= 0 and got["tax"] >= 0, c
    assert got["total"] == subtotal - got["discount"] + got["delivery"] + got["tax"], f"total: {c}"
    assert c["promo_code"] is None or (isinstance(c["promo_code"], str) and c["promo_code"]), c
    assert isinstance(c["promo_code_applies"], bool), c
    if c["promo_code"] is None or not items:
        assert c["promo_code_applies"] is False, c
    if not c["promo_code_applies"]:
        assert got["discount"] == 0, f"a discount from a code that does not apply: {c}"
    if not items:
        assert all(v == 0 for v in got.values()), f"an empty cart with amounts: {c}"
    assert c["updated_at"] is None or parse_ts(c["updated_at"]), c
    if lines is not None:
        assert [(i["product_id"], i["quantity"]) for i in items] == sorted(lines), (
            f"cart lines {[(i['product_id'], i['quantity']) for i in items]} != {sorted(lines)}")
    if promo_code is not _NOTHING:
        assert c["promo_code"] == promo_code, f"promo_code {c['promo_code']!r} != {promo_code!r}: {c}"
    if applies is not None:
        assert c["promo_code_applies"] is applies, f"promo_code_applies {c['promo_code_applies']} != {applies}: {c}"
    return c


def cart_lines(c: dict[str, Any]) -> list[tuple[int, int]]:
    """(product_id, quantity) of a cart's (or an order's) items."""
    return [(i["product_id"], i["quantity"]) for i in c["items"]]


def assert_promo_code(p: Any) -> dict[str, Any]:
    """Exact promo code shape."""
    assert isinstance(p, dict) and set(p) == PROMO_CODE_KEYS, f"promo code shape: {p!r}"
    assert _is_int(p["id"]) and p["id"] > 0, p
    assert isinstance(p["code"], str) and re.fullmatch(r"[A-Za-z0-9_-]{3,32}", p["code"]), p
    assert p["kind"] in ("percent", "amount"), p
    value = assert_money(p["value"])
    assert value > 0 and (p["kind"] == "amount" or value <= 100), p
    assert assert_money(p["min_subtotal"]) >= 0, p
    for k in ("max_redemptions", "max_per_user"):
        assert p[k] is None or (_is_int(p[k]) and 1 <= p[k] <= 1_000_000_000), p
    for k in ("starts_at", "ends_at"):
        assert p[k] is None or (parse_ts(p[k]) and p[k].endswith("Z")), p
    assert isinstance(p["active"], bool), p
    assert _is_int(p["redemptions"]) and p["redemptions"] >= 0, p
    assert parse_ts(p["updated_at"]) >= parse_ts(p["created_at"]), p
    return p


def promo_body(code: Any = _NOTHING, kind: str = "percent", value: Any = Decimal("10.00"), **extra: Any) -> dict[str, Any]:
    """A POST/PUT /api/v1/promo-codes body (a fresh code text unless `code` is given, even None or "")."""
    body = {"code": unique_code() if code is _NOTHING else code, "kind": kind, "value": value}
    body.update(extra)
    return body


def unique_code(prefix: str = "PC") -> str:
    """A fresh promo code text (3..32 of [A-Za-z0-9_-])."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}".upper()[:32]


def create_promo_code(api: Api, token: str | None = None, **fields: Any) -> dict[str, Any]:
    """POST /api/v1/promo-codes (admin token) with promo_body(**fields); the parsed code."""
    r = api.post(PROMO_CODES, json=promo_body(**fields), token=token)
    return assert_promo_code(assert_status(r, 201))


def get_promo_code(api: Api, code_id: int, token: str | None = None) -> dict[str, Any]:
    return assert_promo_code(assert_status(api.get(promo_code_path(code_id), token=token), 200))


def get_cart(api: Api, token: str | None = None) -> dict[str, Any]:
    return assert_cart(assert_status(api.get(CART, token=token), 200))


def add_to_cart(api: Api, product_id: Any, quantity: Any, token: str | None = None,
                timeout: float = TIMEOUT) -> requests.Response:
    """POST /api/v1/cart/items."""
    return api.post(CART_ITEMS, json={"product_id": product_id, "quantity": quantity}, token=token, timeout=timeout)


def set_cart_item(api: Api, product_id: Any, quantity: Any, token: str | None = None) -> requests.Response:
    """PUT /api/v1/cart/items/{product_id}."""
    return api.put(cart_item_path(product_id), json={"quantity": quantity}, token=token)


def apply_code(api: Api, code: Any, token: str | None = None) -> requests.Response:
    """PUT /api/v1/cart/promo-code."""
    return api.put(CART_PROMO, json={"code": code}, token=token)


def fill_cart(api: Api, token: str, *lines: tuple[int, int], code: str | None = None) -> dict[str, Any]:
    """Adds each (product_id, quantity) to the caller's cart (and applies `code`); the cart."""
    cart = None
    for pid, qty in lines:
        cart = assert_cart(assert_status(add_to_cart(api, pid, qty, token=token), 200))
    if code is not None:
        cart = assert_cart(assert_status(apply_code(api, code, token=token), 200))
    return cart if cart is not None else get_cart(api, token)


def checkout(api: Api, token: str | None = None, *, key: str | None = None, json: Any = _NOTHING,
             headers: dict[str, str] | None = None, timeout: float = TIMEOUT) -> requests.Response:
    """POST /api/v1/cart/checkout (no body unless `json` is given), with an Idempotency-Key when given."""
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["Idempotency-Key"] = key
    return api.post(CHECKOUT, json=json, token=token, headers=hdrs or None, timeout=timeout)


def replayed(r: requests.Response) -> bool:
    return r.headers.get("Idempotent-Replayed", "").strip().lower() == "true"


def outcome(r: requests.Response) -> tuple[int, str | None]:
    """(status, error code or None) of a response, for the tallies of the race tests."""
    code = None
    if r.status_code >= 400:
        try:
            code = jbody(r)["error"]["code"]
        except Exception:  # noqa: BLE001 - a non-JSON error is itself reported through the tally
            code = "<not a JSON error>"
    return r.status_code, code


def new_customers(api: Api, n: int, prefix: str = "u", threads: int = 4) -> list[dict[str, Any]]:
    """n fresh customers with tokens, registered a few at a time (each registration hashes a password)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> dict[str, Any]:
        client = Api(api.url)
        try:
            return new_customer(client, prefix)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(n)))


def get_pricing(api: Api) -> dict[str, Decimal | None]:
    """GET /api/v1/store/pricing (anonymous), as Decimals."""
    p = assert_pricing(assert_status(api.get(PRICING), 200))
    return {k: (None if v is None else Decimal(v)) for k, v in p.items()}


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class StorePricing:
    """The store's pricing settings switched on the running responders (responder.env + SIGHUP, the
    mechanism of Tests/Faults/test_07), confirmed on every responder's own socket and through nginx
    by GET /api/v1/store/pricing; `restore()` goes back to the stack's settings and confirms those.

        pricing = StorePricing(api)
        try:
            pricing.set(tax_rate="13", delivery_fee="5.00", free_delivery_from="100.00")
        finally:
            pricing.restore()
    """

    def __init__(self, api: Api):
        from .stack import ResponderSettings

        self.api = api
        self.settings = ResponderSettings()
        self.before = get_pricing(api)

    def set(self, tax_rate: Any = "0", delivery_fee: Any = "0.00", free_delivery_from: Any = None) -> dict[str, Any]:
        want = {"tax_rate": Decimal(str(tax_rate)), "delivery_fee": Decimal(str(delivery_fee)),
                "free_delivery_from": _decimal_or_none(free_delivery_from)}
        self.settings.set({
            "STOCKROOM_TAX_RATE": str(tax_rate),
            "STOCKROOM_DELIVERY_FEE": str(delivery_fee),
            "STOCKROOM_FREE_DELIVERY_FROM": None if free_delivery_from is None else str(free_delivery_from),
        })
        self.wait(want)
        return want

    def restore(self) -> None:
        self.settings.restore()
        self.wait(self.before)

    def wait(self, want: dict[str, Any], seconds: float = 10) -> None:
        """Until every responder (straight on its socket, twice) and nginx (four times) report `want`."""
        from .fastcgi import fcgi_call
        from .stack import responder_indexes, responder_socket

        def reported() -> list[Any]:
            seen = []
            for index in responder_indexes():
                for _ in range(2):
                    r = fcgi_call(responder_socket(index), "GET", PRICING, timeout=5)
                    seen.append(r.json() if r.status == 200 else r)
            for _ in range(4):
                r = self.api.get(PRICING)
                seen.append(jbody(r) if r.status_code == 200 else describe(r))
            return seen

        deadline = time.monotonic() + seconds
        while True:
            seen = reported()
            if all(isinstance(s, dict) and {k: _decimal_or_none(v) for k, v in s.items()} == want for s in seen):
                for s in seen:
                    assert_pricing(s)
                return
            if time.monotonic() >= deadline:
                pytest.fail(f"GET {PRICING} does not report {want} {seconds} s after the reload: {seen}")
            time.sleep(0.1)
