"""Issue 13 (part): conditional GETs and Cache-Control, through nginx.

The public catalog reads (GET product, the product list, the store's pricing) answer 200 with a
strong ETag (a digest of the body) and `Cache-Control: no-cache`, and 304 without a body when
If-None-Match names the current tag. Every other answer, errors and nginx's own included, is
`no-store`. The class of every route is checked by walking the router's route table (the
`router.add` calls, as test_openapi_routes.py reads them), so a new route is checked too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from stockroom_kit.client import Api, assert_status, new_customer, order_body, place_order, unique_code, promo_body

REPO = Path(__file__).resolve().parents[2]
HANDLERS = REPO / "Sources" / "StockroomHTTP" / "Handlers"
PRODUCTS = "/api/v1/products"
STRONG_TAG = re.compile(r'^"[0-9a-f]{13}"$')


def product_path(pid: int) -> str:
    return f"{PRODUCTS}/{pid}"


def assert_revalidated(r, status: int = 200) -> str:
    """A public catalog answer: status, a strong tag, no-cache; returns the tag."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    tag = r.headers.get("ETag", "")
    assert STRONG_TAG.match(tag), r.headers
    assert r.headers.get("Cache-Control") == "no-cache", r.headers
    assert r.headers.get("X-Request-Id"), r.headers
    return tag


def assert_not_modified(r, tag: str) -> None:
    assert assert_revalidated(r, 304) == tag, r.headers
    assert r.content == b"", r.content[:200]
    assert "Content-Length" not in r.headers or r.headers["Content-Length"] == "0", r.headers


def assert_no_store(r, what: str = "") -> None:
    assert r.headers.get("Cache-Control") == "no-store", (what, r.status_code, r.headers)
    assert "ETag" not in r.headers, (what, r.status_code, r.headers)


# ---------------------------------------------------------------- GET product


def test_product_has_a_strong_tag_that_repeats(api, make_product):
    p = make_product(stock=5)
    first = api.get(product_path(p["id"]))
    tag = assert_revalidated(first)
    assert first.json()["id"] == p["id"] and first.json()["stock"] == 5
    again = api.get(product_path(p["id"]))
    assert assert_revalidated(again) == tag and again.content == first.content


def test_a_matching_tag_is_a_304_without_body(api, make_product):
    p = make_product()
    path = product_path(p["id"])
    tag = assert_revalidated(api.get(path))
    for condition in (tag, "W/" + tag, f'"0000000000000000", {tag}', f',{tag} ,', "*"):
        r = api.get(path, headers={"If-None-Match": condition, "X-Request-Id": "etag-304-check"})
        assert_not_modified(r, tag)
        assert r.headers["X-Request-Id"] == "etag-304-check", r.headers


def test_no_match_or_a_malformed_header_is_the_full_answer(api, make_product):
    p = make_product()
    path = product_path(p["id"])
    full = api.get(path)
    tag = assert_revalidated(full)
    bare = tag.strip('"')
    for condition in ('"0000000000000000"', bare, f'"{bare}', f"{tag} junk", f"*, {tag}", "w/" + tag, "", "W/",
                      f"{tag};q=1", "\u00e9".encode("utf-8").decode("latin-1")):
        r = api.get(path, headers={"If-None-Match": condition})
        assert assert_revalidated(r) == tag, condition
        assert r.content == full.content, condition


def test_head_has_the_tag_of_get_and_its_304(api, make_product):
    p = make_product()
    path = product_path(p["id"])
    tag = assert_revalidated(api.get(path))
    head = api.request("HEAD", path)
    assert assert_revalidated(head) == tag and head.content == b""
    assert_not_modified(api.request("HEAD", path, headers={"If-None-Match": tag}), tag)


def test_the_tag_changes_with_stock_price_and_name(api, admin_api, make_product, customer_token):
    p = make_product(price=Decimal("19.99"), stock=10)
    path = product_path(p["id"])
    seen = [assert_revalidated(api.get(path))]

    def changed(what: str) -> None:
        r = api.get(path, headers={"If-None-Match": ", ".join(seen)})
        tag = assert_revalidated(r)
        assert tag not in seen, (what, tag, seen)
        seen.append(tag)
        assert_not_modified(api.get(path, headers={"If-None-Match": tag}), tag)

    assert_status(place_order(api, order_body((p["id"], 3)), token=customer_token), 201)
    changed("an order took stock")
    # Every step leaves a body not seen before (back to stock 10 within the second of the creation
    # would be the first body again, and rightly its tag).
    assert_status(admin_api.post(f"{path}/restock", json={"quantity": 5}), 200)
    changed("a restock")
    assert_status(admin_api.put(path, json={"name": p["name"], "price": Decimal("18.99"), "stock": 12}), 200)
    changed("a new price")
    assert_status(admin_api.put(path, json={"name": p["name"] + " v2", "price": Decimal("18.99"), "stock": 12}), 200)
    changed("a new name")


def test_a_deleted_product_is_a_404_whatever_the_condition(api, admin_api, make_product):
    p = make_product()
    path = product_path(p["id"])
    tag = assert_revalidated(api.get(path))
    assert_status(admin_api.delete(path), 204)
    for condition in (tag, "*"):
        r = api.get(path, headers={"If-None-Match": condition})
        assert r.status_code == 404 and r.json()["error"]["code"] == "product_not_found", r.text
        assert_no_store(r, condition)


# ---------------------------------------------------------------- the list and the pricing


def test_every_page_of_the_list_has_its_own_tag(api, make_product, customer_token):
    products = [make_product(stock=10) for _ in range(4)]
    after = products[0]["id"] - 1
    page1 = {"limit": 2, "after": after}
    page2 = {"limit": 2, "after": products[1]["id"]}
    r1 = api.get(PRODUCTS, params=page1)
    tag1 = assert_revalidated(r1)
    assert [item["id"] for item in r1.json()["items"]] == [p["id"] for p in products[:2]]
    tag2 = assert_revalidated(api.get(PRODUCTS, params=page2))
    assert tag1 != tag2
    assert assert_revalidated(api.get(PRODUCTS, params=page1)) == tag1
    assert_not_modified(api.get(PRODUCTS, params=page1, headers={"If-None-Match": tag1}), tag1)
    # Page 1's tag is no match for page 2, nor for another page size from the same place.
    assert assert_revalidated(api.get(PRODUCTS, params=page2, headers={"If-None-Match": tag1})) == tag2
    assert assert_revalidated(api.get(PRODUCTS, params={"limit": 3, "after": after},
                                      headers={"If-None-Match": tag1})) not in (tag1, tag2)
    # An order on a product of page 2 changes page 2's tag, not page 1's.
    assert_status(place_order(api, order_body((products[2]["id"], 1)), token=customer_token), 201)
    assert_not_modified(api.get(PRODUCTS, params=page1, headers={"If-None-Match": tag1}), tag1)
    assert assert_revalidated(api.get(PRODUCTS, params=page2, headers={"If-None-Match": tag2})) != tag2


def test_a_bad_page_request_is_a_no_store_422(api):
    r = api.get(PRODUCTS, params={"limit": 0}, headers={"If-None-Match": "*"})
    assert r.status_code == 422, r.text
    assert_no_store(r)


def test_pricing_is_revalidated(api):
    tag = assert_revalidated(api.get("/api/v1/store/pricing"))
    assert_not_modified(api.get("/api/v1/store/pricing", headers={"If-None-Match": tag}), tag)


def test_if_none_match_is_ignored_where_nothing_is_cached(api, admin_api, customer_token):
    # A write with If-None-Match: * still happens.
    r = admin_api.post(PRODUCTS, json={"name": "inm write", "price": Decimal("1.00"), "stock": 1},
                       headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    assert_no_store(r)
    for path, token in (("/api/v1/users/me", customer_token), ("/api/v1/cart", customer_token),
                        ("/health", None), ("/health/live", None)):
        r = api.get(path, token=token, headers={"If-None-Match": "*"})
        assert r.status_code == 200, (path, r.text)
        assert_no_store(r, path)


# ---------------------------------------------------------------- every route, by class


def router_routes() -> list[tuple[str, str]]:
    call = re.compile(r'router\.add\(\s*"([A-Z]+)"\s*,\s*"([^"]+)"')
    routes = []
    for source in sorted(HANDLERS.glob("*.swift")):
        routes += call.findall(source.read_text(encoding="utf-8"))
    assert len(routes) > 20, routes
    return routes


@pytest.fixture(scope="module")
def resources(url, admin_token):
    """Ids that make every path of the route table exist: a product (in the walker's cart), an
    order of the walker's, a promo code; the walker is a customer of its own."""
    api = Api(url)
    admin = Api(url, admin_token)
    product = assert_status(admin.post(PRODUCTS, json={"name": "cache walk", "price": Decimal("2.00"), "stock": 50}), 201)
    walker = new_customer(api, "cachewalk")["token"]
    order = assert_status(place_order(api, order_body((product["id"], 1)), token=walker), 201)
    code = assert_status(admin.post("/api/v1/promo-codes", json=promo_body(unique_code("CW"))), 201)
    assert_status(api.put(f"/api/v1/cart/items/{product['id']}", json={"quantity": 1}, token=walker), 200)
    yield {"products": product["id"], "orders": order["id"], "promo-codes": code["id"], "items": product["id"],
           "walker": walker}
    api.close()
    admin.close()


def concrete(path: str, resources) -> str:
    parts = path.split("/")
    return "/".join(str(resources[parts[i - 1]]) if part == "{id}" else part for i, part in enumerate(parts))


def test_every_route_answers_by_its_class(api, resources, admin_token):
    """Public catalog reads: a GET under /api/v1/ that answers 200 without a token gets a strong tag,
    no-cache and its 304. Every other answer of every route (with no token, a customer's, an
    admin's; successes and errors) is no-store without a tag."""
    public = set()
    for method, pattern in router_routes():
        path = concrete(pattern, resources)
        if method == "GET":
            anonymous = api.get(path)
            is_public = path.startswith("/api/v1/") and anonymous.status_code == 200
            if is_public:
                public.add(pattern)
            for token in (None, resources["walker"], admin_token):
                r = anonymous if token is None else api.get(path, token=token)
                what = f"GET {path} token={'yes' if token else 'no'} -> {r.status_code}"
                if is_public:
                    tag = assert_revalidated(r)
                    assert_not_modified(api.get(path, token=token, headers={"If-None-Match": tag}), tag)
                else:
                    assert_no_store(r, what)
        else:
            # Without a token (nothing changes): 401 for a signed-in route, 422 for login and
            # register with an empty body.
            r = api.request(method, path, json={})
            assert r.status_code >= 400, (method, path, r.status_code)
            assert_no_store(r, f"{method} {path} -> {r.status_code}")
    # What the walk found public is exactly the catalog (and a new public read is a deliberate change).
    assert public == {"/api/v1/products", "/api/v1/products/{id}", "/api/v1/store/pricing"}, public


def test_auth_answers_that_carry_a_token_are_no_store(api):
    name = unique_code("cc").lower()
    r = api.post("/api/v1/auth/register", json={"username": name, "password": "correct-horse-9"})
    assert r.status_code == 201, r.text
    assert_no_store(r, "register")
    r = api.post("/api/v1/auth/login", json={"username": name, "password": "correct-horse-9"})
    assert r.status_code == 200 and r.json()["token"], r.text
    assert_no_store(r, "login")
    token = r.json()["token"]
    r = api.post("/api/v1/auth/logout", token=token)
    assert r.status_code == 204, r.text
    assert_no_store(r, "logout")


def test_unknown_paths_wrong_methods_and_nginx_errors_are_no_store(api):
    r = api.get("/api/v1/no-such-thing", headers={"If-None-Match": "*"})
    assert r.status_code == 404
    assert_no_store(r, "unknown path")
    r = api.request("PATCH", PRODUCTS)
    assert r.status_code == 405
    assert_no_store(r, "405")
    # nginx's own 413 (the body is over the limit before any responder sees it).
    r = api.post(PRODUCTS, data=b"x" * 70_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert_no_store(r, "nginx 413")
    # nginx's own 405 (TRACE never reaches a responder).
    r = api.request("TRACE", PRODUCTS)
    assert r.status_code == 405
    assert_no_store(r, "nginx 405")
