"""Issue 3 edge cases found in review: which error wins when an order has both a missing and a
short product, and a cancel that would take stock past the schema's limit."""

from stockroom_kit.client import assert_error, assert_status, order_body, order_path, place_order
from stockroom_kit.stack import run_check


def test_missing_product_is_reported_before_a_shortage(api, make_product, customer_token, admin_api):
    short = make_product(stock=1)
    gone = make_product(stock=5)
    assert admin_api.delete(f"/api/v1/products/{gone['id']}").status_code == 204
    r = place_order(api, order_body((short["id"], 2), (gone["id"], 1)), token=customer_token)
    body = assert_error(r, 404, "product_not_found")
    assert int(body["product_id"]) == int(gone["id"])
    assert int(assert_status(api.get(f"/api/v1/products/{short['id']}"), 200)["stock"]) == 1


def test_cancel_that_would_exceed_the_stock_limit_is_refused_cleanly(api, make_product, customer_token, admin_api):
    product = make_product(stock=10)
    order = assert_status(place_order(api, order_body((product["id"], 5)), token=customer_token), 201)
    r = admin_api.put(f"/api/v1/products/{product['id']}",
                      json={"name": product["name"], "price": 1, "stock": 1000000000})
    assert_status(r, 200)
    r = api.post(order_path(order["id"]) + "/cancel", token=customer_token)
    assert_error(r, 409, "order_not_cancellable")
    assert assert_status(api.get(order_path(order["id"]), token=customer_token), 200)["status"] != "cancelled"
    assert int(assert_status(api.get(f"/api/v1/products/{product['id']}"), 200)["stock"]) == 1000000000
    assert run_check().returncode == 0
