"""Issue 12: the live answers of every operation in docs/openapi.yaml conform to it (openapi-core).

Each operation is exercised at least once with a success and once with an error, and every answer
is validated with openapi-core against the spec: status documented, media type, body schema and
the documented headers (X-Request-Id and Cache-Control on every answer, ETag on the catalog reads,
Location, Idempotent-Replayed, Retry-After, WWW-Authenticate). The catalog reads are also validated
with their 304 (If-None-Match with the current tag: no body, ETag and Cache-Control kept). Money is checked as the spec describes it: `format: decimal`, at most two
decimals (round(x, 2) == x: the check a client can make without the binary floating point trap
of `multipleOf: 0.01`). The three operations that have no client error (health, liveness,
pricing) get their error from a private nginx with the same configuration and no responder
behind it (502 bad_gateway); /metrics gets its 403 from a non-loopback-allowed address.

Also here: nginx serves the spec itself, read-only, at /api/v1/openapi.yaml.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from stockroom_kit.client import Api, create_promo_code, login_token, new_customer, promo_body, unique_code
from stockroom_kit.nginx import PrivateNginx, free_port, stockroom_server_lines

REPO = Path(__file__).resolve().parents[2]
SPEC_FILE = REPO / "docs" / "openapi.yaml"
SPEC_URL = "/api/v1/openapi.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def at_most_two_decimals(value: Any) -> bool:
    """The `decimal` format of the money schemas."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and round(value, 2) == value


@pytest.fixture(scope="module")
def spec_doc() -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def no_responder_url(tmp_path_factory) -> str:
    """A private nginx with Stockroom's configuration whose responder socket nobody listens on."""
    d = tmp_path_factory.mktemp("openapi-no-responder")
    port = free_port()
    nginx = PrivateNginx(d, f"""
    {stockroom_server_lines("http")}
    upstream stockroom_fcgi {{
        server unix:{d}/nobody-listens.sock;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        {stockroom_server_lines("server")}
    }}""", [port], error_log_level="crit")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        nginx.stop()


class Conformance:
    """Validates answers with openapi-core and records which statuses each operation was seen with."""

    def __init__(self, spec_doc: dict[str, Any], urls: list[str]):
        doc = dict(spec_doc, servers=[{"url": u} for u in urls])
        self.openapi = OpenAPI.from_dict(doc, config=Config(extra_format_validators={"decimal": at_most_two_decimals}))
        self.routes: dict[str, tuple[str, re.Pattern[str]]] = {}
        for path, item in spec_doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            for method, operation in item.items():
                if method in METHODS:
                    self.routes[operation["operationId"]] = (method.upper(), pattern)
        self.seen: dict[str, set[int]] = {}

    def check(self, operation_id: str, r: requests.Response, status: int | None = None) -> Any:
        """Asserts the answer is this operation's, with `status` when given, and conforms to the
        spec; returns its JSON body (None when there is none)."""
        method, pattern = self.routes[operation_id]
        what = f"{operation_id}: {r.request.method} {r.request.path_url} -> {r.status_code} {r.text[:300]!r}"
        assert r.request.method == method and pattern.match(r.request.path_url.split("?")[0]), what
        if status is not None:
            assert r.status_code == status, what
        result = self.openapi.unmarshal_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))
        assert not result.errors, f"{what}\nheaders: {dict(r.headers)}\nerrors: " + "; ".join(
            f"{e!r} {getattr(e, '__cause__', '')!r}" for e in result.errors)
        self.seen.setdefault(operation_id, set()).add(r.status_code)
        return r.json() if r.content and r.headers.get("Content-Type", "").startswith("application/json") else None


class Context:
    """What the exercises need: clients for the stack and for the nginx without a responder, an
    admin token, a fresh customer, products."""

    def __init__(self, url: str, no_responder_url: str, admin_token: str, conformance: Conformance):
        self.api = Api(url)
        self.broken = Api(no_responder_url)
        self.admin = admin_token
        self.check = conformance.check
        self.customer = new_customer(self.api, "oas")["token"]

    def close(self) -> None:
        self.api.close()
        self.broken.close()

    def product(self, price: str = "19.99", stock: int = 100) -> dict[str, Any]:
        r = self.api.post("/api/v1/products", json={"name": f"oas-{uuid.uuid4().hex[:8]}", "price": Decimal(price),
                                                    "stock": stock}, token=self.admin)
        return self.check("createProduct", r, 201)

    def order(self, product_id: int, quantity: int = 3) -> dict[str, Any]:
        r = self.api.post("/api/v1/orders", json={"product_id": product_id, "quantity": quantity}, token=self.customer)
        return self.check("createOrder", r, 201)

    def code(self, **fields: Any) -> dict[str, Any]:
        return create_promo_code(self.api, token=self.admin, **fields)


@pytest.fixture(scope="module")
def conformance(spec_doc, url, no_responder_url) -> Conformance:
    return Conformance(spec_doc, [url, no_responder_url])


@pytest.fixture
def ctx(url, no_responder_url, admin_token, conformance):
    context = Context(url, no_responder_url, admin_token, conformance)
    yield context
    context.close()


class FromAddress(requests.adapters.HTTPAdapter):
    """Connects from a given local address (127.0.0.2 is loopback, but not one /metrics allows)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


MISSING_ID = 999_999_999_999  # a positive id no test creates


# ---------------------------------------------------------------- one exercise per operation
# Each calls ctx.check(operationId, answer, status) for at least one success and one error.


def ex_health(c: Context) -> None:
    c.check("getHealth", c.api.get("/health"), 200)
    c.check("getHealth", c.broken.get("/health"), 502)


def ex_liveness(c: Context) -> None:
    c.check("getLiveness", c.api.get("/health/live"), 200)
    c.check("getLiveness", c.broken.get("/health/live"), 502)


def ex_metrics(c: Context) -> None:
    c.check("getMetrics", c.api.get("/metrics"), 200)
    with requests.Session() as other:
        other.mount("http://", FromAddress("127.0.0.2"))
        c.check("getMetrics", other.get(c.api.url + "/metrics", timeout=10), 403)


def ex_register(c: Context) -> None:
    name = f"oas_{uuid.uuid4().hex[:10]}"
    c.check("register", c.api.post("/api/v1/auth/register", json={"username": name, "password": "correct-horse-9"}), 201)
    c.check("register", c.api.post("/api/v1/auth/register", json={"username": name, "password": "correct-horse-9"}), 400)
    c.check("register", c.api.post("/api/v1/auth/register", json={"username": name, "password": "short"}), 422)
    c.check("register", c.api.post("/api/v1/auth/register", data="x", headers={"Content-Type": "text/plain"}), 415)


def ex_login(c: Context) -> None:
    name = f"oas_{uuid.uuid4().hex[:10]}"
    c.api.post("/api/v1/auth/register", json={"username": name, "password": "correct-horse-9"})
    c.check("login", c.api.post("/api/v1/auth/login", json={"username": name, "password": "correct-horse-9"}), 200)
    c.check("login", c.api.post("/api/v1/auth/login", json={"username": name, "password": "wrong-horse-9"}), 401)
    c.check("login", c.api.post("/api/v1/auth/login", data="{", headers={"Content-Type": "application/json"}), 400)


def ex_logout(c: Context) -> None:
    c.check("logout", c.api.post("/api/v1/auth/logout", token=c.customer), 204)
    c.check("logout", c.api.post("/api/v1/auth/logout", token=c.customer), 401)


def ex_me(c: Context) -> None:
    c.check("getMe", c.api.get("/api/v1/users/me", token=c.customer), 200)
    c.check("getMe", c.api.get("/api/v1/users/me"), 401)


def ex_list_products(c: Context) -> None:
    c.product()
    page = c.api.get("/api/v1/products", params={"limit": 100})
    c.check("listProducts", page, 200)
    c.check("listProducts", c.api.get("/api/v1/products", params={"limit": 100},
                                      headers={"If-None-Match": page.headers["ETag"]}), 304)
    c.check("listProducts", c.api.get("/api/v1/products", params={"limit": 0}), 422)


def ex_create_product(c: Context) -> None:
    for price in ("19.99", "0.10", "0.07", "99999999.99", "0"):
        assert c.product(price)["price"] == float(price)
    body = {"name": "oas", "price": Decimal("19.999"), "stock": 1}
    c.check("createProduct", c.api.post("/api/v1/products", json=body, token=c.admin), 422)
    c.check("createProduct", c.api.post("/api/v1/products", json=body, token=c.customer), 403)
    # nginx's own 413, before the responder.
    big = b'{"name": "' + b"x" * 70_000 + b'", "price": 1, "stock": 1}'
    c.check("createProduct", c.api.post("/api/v1/products", data=big, token=c.admin,
                                        headers={"Content-Type": "application/json"}), 413)


def ex_get_product(c: Context) -> None:
    p = c.product()
    r = c.api.get(f"/api/v1/products/{p['id']}")
    c.check("getProduct", r, 200)
    c.check("getProduct", c.api.get(f"/api/v1/products/{p['id']}", headers={"If-None-Match": r.headers["ETag"]}), 304)
    c.check("getProduct", c.api.get(f"/api/v1/products/{p['id']}", headers={"If-None-Match": "*"}), 304)
    c.check("getProduct", c.api.get(f"/api/v1/products/{MISSING_ID}"), 404)


def ex_replace_product(c: Context) -> None:
    p = c.product()
    body = {"name": "oas replaced", "price": Decimal("0.10"), "stock": 3}
    c.check("replaceProduct", c.api.put(f"/api/v1/products/{p['id']}", json=body, token=c.admin), 200)
    c.check("replaceProduct", c.api.put(f"/api/v1/products/{MISSING_ID}", json=body, token=c.admin), 404)


def ex_delete_product(c: Context) -> None:
    p = c.product()
    c.check("deleteProduct", c.api.delete(f"/api/v1/products/{p['id']}", token=c.admin), 204)
    c.check("deleteProduct", c.api.delete(f"/api/v1/products/{p['id']}", token=c.admin), 404)


def ex_restock(c: Context) -> None:
    p = c.product()
    path = f"/api/v1/products/{p['id']}/restock"
    c.check("restockProduct", c.api.post(path, json={"quantity": 5}, token=c.admin), 200)
    c.check("restockProduct", c.api.post(path, json={"quantity": 0}, token=c.admin), 422)


def ex_create_order(c: Context) -> None:
    p = c.product("19.99", stock=5)
    key = {"Idempotency-Key": f"oas-{uuid.uuid4().hex}"}
    body = {"items": [{"product_id": p["id"], "quantity": 3}]}
    first = c.api.post("/api/v1/orders", json=body, token=c.customer, headers=key)
    assert c.check("createOrder", first, 201)["subtotal"] == 59.97
    replay = c.api.post("/api/v1/orders", json=body, token=c.customer, headers=key)
    c.check("createOrder", replay, 201)
    assert replay.headers.get("Idempotent-Replayed") == "true", replay.headers
    c.check("createOrder", c.api.post("/api/v1/orders", json=body, token=c.customer), 409)
    c.check("createOrder", c.api.post("/api/v1/orders", json={"product_id": MISSING_ID, "quantity": 1},
                                      token=c.customer), 404)


def ex_list_orders(c: Context) -> None:
    c.order(c.product()["id"])
    c.check("listOrders", c.api.get("/api/v1/orders", token=c.customer), 200)
    c.check("listOrders", c.api.get("/api/v1/orders", params={"after": -1}, token=c.customer), 422)


def ex_get_order(c: Context) -> None:
    order = c.order(c.product()["id"])
    c.check("getOrder", c.api.get(f"/api/v1/orders/{order['id']}", token=c.customer), 200)
    c.check("getOrder", c.api.get(f"/api/v1/orders/{MISSING_ID}", token=c.customer), 404)


def ex_cancel_order(c: Context) -> None:
    order = c.order(c.product()["id"])
    c.check("cancelOrder", c.api.post(f"/api/v1/orders/{order['id']}/cancel", token=c.customer), 200)
    c.check("cancelOrder", c.api.post(f"/api/v1/orders/{order['id']}/cancel", token=c.customer), 409)


def ex_pricing(c: Context) -> None:
    r = c.api.get("/api/v1/store/pricing")
    c.check("getPricing", r, 200)
    c.check("getPricing", c.api.get("/api/v1/store/pricing", headers={"If-None-Match": r.headers["ETag"]}), 304)
    c.check("getPricing", c.broken.get("/api/v1/store/pricing"), 502)


def ex_get_cart(c: Context) -> None:
    c.check("getCart", c.api.get("/api/v1/cart", token=c.customer), 200)
    c.check("getCart", c.api.get("/api/v1/cart"), 401)


def ex_clear_cart(c: Context) -> None:
    c.check("clearCart", c.api.delete("/api/v1/cart", token=c.customer), 204)
    c.check("clearCart", c.api.delete("/api/v1/cart", token="x" * 43), 401)


def ex_add_cart_item(c: Context) -> None:
    p = c.product("0.10")
    cart = c.check("addCartItem", c.api.post("/api/v1/cart/items", json={"product_id": p["id"], "quantity": 3},
                                             token=c.customer), 200)
    assert cart["subtotal"] == 0.30, cart
    c.check("addCartItem", c.api.post("/api/v1/cart/items", json={"product_id": MISSING_ID, "quantity": 1},
                                      token=c.customer), 404)
    c.check("addCartItem", c.api.post("/api/v1/cart/items", json={"product_id": p["id"], "quantity": 500},
                                      token=c.customer), 409)


def ex_set_cart_item(c: Context) -> None:
    p = c.product()
    path = f"/api/v1/cart/items/{p['id']}"
    c.check("setCartItem", c.api.put(path, json={"quantity": 2}, token=c.customer), 200)
    c.check("setCartItem", c.api.put(path, json={"quantity": 0}, token=c.customer), 422)


def ex_remove_cart_item(c: Context) -> None:
    p = c.product()
    path = f"/api/v1/cart/items/{p['id']}"
    c.api.put(path, json={"quantity": 2}, token=c.customer)
    c.check("removeCartItem", c.api.delete(path, token=c.customer), 200)
    c.check("removeCartItem", c.api.delete(path, token=c.customer), 404)


def ex_apply_promo_code(c: Context) -> None:
    p = c.product("19.99")
    code = c.code(**promo_body(unique_code("OAS"), kind="percent", value=Decimal("10.00")))
    c.api.put(f"/api/v1/cart/items/{p['id']}", json={"quantity": 3}, token=c.customer)
    cart = c.check("applyPromoCode", c.api.put("/api/v1/cart/promo-code", json={"code": code["code"]},
                                               token=c.customer), 200)
    assert (cart["subtotal"], cart["discount"]) == (59.97, 6.00), cart
    c.check("applyPromoCode", c.api.put("/api/v1/cart/promo-code", json={"code": unique_code("NONE")},
                                        token=c.customer), 422)


def ex_remove_promo_code(c: Context) -> None:
    c.check("removePromoCode", c.api.delete("/api/v1/cart/promo-code", token=c.customer), 200)
    c.check("removePromoCode", c.api.delete("/api/v1/cart/promo-code"), 401)


def ex_checkout(c: Context) -> None:
    p = c.product("19.99")
    c.api.put(f"/api/v1/cart/items/{p['id']}", json={"quantity": 1}, token=c.customer)
    c.check("checkoutCart", c.api.post("/api/v1/cart/checkout", token=c.customer), 201)
    c.check("checkoutCart", c.api.post("/api/v1/cart/checkout", token=c.customer), 409)


def ex_create_promo_code(c: Context) -> None:
    body = promo_body(unique_code("OAS"), kind="amount", value=Decimal("19.99"), min_subtotal=Decimal("0.10"))
    c.check("createPromoCode", c.api.post("/api/v1/promo-codes", json=body, token=c.admin), 201)
    c.check("createPromoCode", c.api.post("/api/v1/promo-codes", json=body, token=c.admin), 409)


def ex_list_promo_codes(c: Context) -> None:
    c.code(**promo_body(unique_code("OAS")))
    c.check("listPromoCodes", c.api.get("/api/v1/promo-codes", params={"limit": 100}, token=c.admin), 200)
    c.check("listPromoCodes", c.api.get("/api/v1/promo-codes", token=c.customer), 403)


def ex_get_promo_code(c: Context) -> None:
    code = c.code(**promo_body(unique_code("OAS")))
    c.check("getPromoCode", c.api.get(f"/api/v1/promo-codes/{code['id']}", token=c.admin), 200)
    c.check("getPromoCode", c.api.get(f"/api/v1/promo-codes/{MISSING_ID}", token=c.admin), 404)


def ex_replace_promo_code(c: Context) -> None:
    code = c.code(**promo_body(unique_code("OAS")))
    path = f"/api/v1/promo-codes/{code['id']}"
    body = promo_body(code["code"], kind="percent", value=Decimal("12.50"))
    c.check("replacePromoCode", c.api.put(path, json=body, token=c.admin), 200)
    c.check("replacePromoCode", c.api.put(path, json=dict(body, value=Decimal("100.01")), token=c.admin), 422)


def ex_delete_promo_code(c: Context) -> None:
    code = c.code(**promo_body(unique_code("OAS")))
    path = f"/api/v1/promo-codes/{code['id']}"
    c.check("deletePromoCode", c.api.delete(path, token=c.admin), 204)
    c.check("deletePromoCode", c.api.delete(path, token=c.admin), 404)


EXERCISES: dict[str, Callable[[Context], None]] = {
    "getHealth": ex_health, "getLiveness": ex_liveness, "getMetrics": ex_metrics,
    "register": ex_register, "login": ex_login, "logout": ex_logout, "getMe": ex_me,
    "listProducts": ex_list_products, "createProduct": ex_create_product, "getProduct": ex_get_product,
    "replaceProduct": ex_replace_product, "deleteProduct": ex_delete_product, "restockProduct": ex_restock,
    "createOrder": ex_create_order, "listOrders": ex_list_orders, "getOrder": ex_get_order,
    "cancelOrder": ex_cancel_order, "getPricing": ex_pricing,
    "getCart": ex_get_cart, "clearCart": ex_clear_cart, "addCartItem": ex_add_cart_item,
    "setCartItem": ex_set_cart_item, "removeCartItem": ex_remove_cart_item,
    "applyPromoCode": ex_apply_promo_code, "removePromoCode": ex_remove_promo_code, "checkoutCart": ex_checkout,
    "createPromoCode": ex_create_promo_code, "listPromoCodes": ex_list_promo_codes,
    "getPromoCode": ex_get_promo_code, "replacePromoCode": ex_replace_promo_code,
    "deletePromoCode": ex_delete_promo_code,
}


def test_every_operation_has_an_exercise(spec_doc):
    operations = {op["operationId"] for item in spec_doc["paths"].values() for m, op in item.items() if m in METHODS}
    assert set(EXERCISES) == operations, (
        f"no exercise: {sorted(operations - set(EXERCISES))}; not in the spec: {sorted(set(EXERCISES) - operations)}")


@pytest.mark.parametrize("operation_id", sorted(EXERCISES))
def test_live_answers_conform_to_the_spec(operation_id, ctx, conformance):
    conformance.seen.pop(operation_id, None)
    EXERCISES[operation_id](ctx)
    statuses = conformance.seen.get(operation_id, set())
    assert any(200 <= s < 300 for s in statuses) and any(s >= 400 for s in statuses), (
        f"{operation_id}: validated statuses {sorted(statuses)}, want a success and an error")


def test_money_format_rejects_a_third_decimal(conformance):
    """The `decimal` format check itself: what the validator would say of a price the server
    never sends (and of the ones it does)."""
    assert at_most_two_decimals(19.99) and at_most_two_decimals(0.07) and at_most_two_decimals(59.97)
    assert at_most_two_decimals(99999999.99) and at_most_two_decimals(0)
    assert not at_most_two_decimals(19.999) and not at_most_two_decimals(0.001)


# ---------------------------------------------------------------- the spec, served by nginx


def test_spec_is_served_read_only(api):
    r = api.get(SPEC_URL)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/yaml", r.headers
    assert r.content == SPEC_FILE.read_bytes(), "the served spec is not docs/openapi.yaml"
    assert r.headers.get("X-Request-Id") and r.headers.get("Cache-Control") == "no-cache", r.headers
    assert yaml.safe_load(r.content)["openapi"].startswith("3.1"), r.text[:100]
    # A client revalidates its copy.
    etag = r.headers.get("ETag")
    assert etag, r.headers
    again = api.get(SPEC_URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers.get("X-Request-Id"), again.headers
    head = api.request("HEAD", SPEC_URL)
    assert head.status_code == 200 and head.content == b"", head.headers
    assert head.headers.get("Content-Length") == str(len(r.content)), head.headers
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        w = api.request(method, SPEC_URL, json={})
        assert w.status_code == 405, (method, w.status_code, w.text[:200])
        assert w.headers.get("Content-Type") == "application/json", w.headers
        assert w.json()["error"]["code"] == "method_not_allowed", w.text
        assert w.headers.get("Allow") == "GET, HEAD" and w.headers.get("X-Request-Id"), w.headers
