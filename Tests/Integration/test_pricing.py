"""Issue 10, Pricing: GET /api/v1/store/pricing and the one pricing rule of carts, checkout and direct
orders (exact cents, every rounding half up), with the store settings switched on the running
responders (responder.env + SIGHUP, as Tests/Faults/test_07 does) and restored afterwards.

Decisions followed where the contract is silent: /tmp/issue10/DECISIONS.md (settings, the endpoint's
numbers, the cart JSON). The integration stack runs with tax 0, fee 0.00, free delivery null.
"""

from decimal import Decimal

import pytest

from stockroom_kit.client import (
    PRICING,
    add_to_cart,
    Api,
    StorePricing,
    amounts,
    apply_code,
    assert_cart,
    assert_error,
    assert_order,
    assert_status,
    cart_lines,
    checkout,
    expected_pricing,
    fill_cart,
    get_cart,
    get_pricing,
    jbody,
    order_body,
    order_path,
    place_order,
    product_stock,
)

D = Decimal
# The contract's example settings.
TAX, FEE, FREE = "13", "5.00", "100.00"
EXAMPLE = {"tax_rate": TAX, "delivery_fee": FEE, "free_delivery_from": FREE}


def _priced(*values):
    return dict(zip(("subtotal", "discount", "delivery", "tax", "total"), (D(v) for v in values)))


def _checkout_order(api, user, expected, code_text=None):
    """Checkout of the user's cart: the order carries the cart's pricing; the cart is empty after."""
    r = checkout(api, user["token"])
    o = assert_order(assert_status(r, 201), user_id=user["user"]["id"], status="pending")
    assert amounts(o) == expected, o
    assert o["promo_code"] == code_text, o
    again = assert_order(assert_status(api.get(order_path(o["id"]), token=user["token"]), 200))
    assert amounts(again) == expected and again["promo_code"] == code_text, again
    assert_cart(get_cart(api, user["token"]), lines=[], promo_code=None, applies=False)
    return o


# ---------------------------------------------------------------- the endpoint with the stack's defaults


def test_pricing_defaults_of_the_stack(api, customer_token):
    r = api.get(PRICING)
    body = assert_status(r, 200)
    assert set(body) == {"tax_rate", "delivery_fee", "free_delivery_from"}, body
    assert get_pricing(api) == {"tax_rate": D("0"), "delivery_fee": D("0.00"), "free_delivery_from": None}
    # anyone: a signed-in caller gets the same answer
    assert jbody(api.get(PRICING, token=customer_token)) == body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_pricing_wrong_method_is_405(api, method):
    r = api.request(method, PRICING)
    assert_error(r, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert "GET" in allow, r.headers


def test_defaults_price_orders_as_the_sum_of_their_lines(api, make_product, new_user):
    """tax 0, fee 0.00, no free threshold: delivery and tax are 0, total = subtotal."""
    p = make_product(price=D("19.99"), stock=10)
    buyer = new_user("pr0")
    cart = fill_cart(api, buyer["token"], (p["id"], 3))
    assert amounts(cart) == _priced("59.97", "0.00", "0.00", "0.00", "59.97"), cart
    o = assert_order(assert_status(place_order(api, order_body((p["id"], 1)), token=buyer["token"]), 201))
    assert amounts(o) == _priced("19.99", "0.00", "0.00", "0.00", "19.99") and o["promo_code"] is None, o


# ---------------------------------------------------------------- other settings, one test each


def test_fee_without_free_threshold_is_always_charged(api, make_product, new_user, store_pricing):
    settings = store_pricing(tax_rate="0", delivery_fee="4.99", free_delivery_from=None)
    assert get_pricing(api) == {"tax_rate": D("0"), "delivery_fee": D("4.99"), "free_delivery_from": None}
    body = jbody(api.get(PRICING))
    assert body["free_delivery_from"] is None, body
    p = make_product(price=D("5000.00"), stock=10)
    buyer = new_user("prfee")
    assert amounts(get_cart(api, buyer["token"])) == _priced(0, 0, 0, 0, 0)  # an empty cart pays nothing
    cart = fill_cart(api, buyer["token"], (p["id"], 2))
    expected = _priced("10000.00", "0.00", "4.99", "0.00", "10004.99")
    assert expected == expected_pricing([(D("5000.00"), 2)], **settings)
    assert amounts(cart) == expected, cart
    _checkout_order(api, buyer, expected)


def test_tax_rounds_half_up(api, make_product, new_user, store_pricing):
    """tax 12.5 (two decimals allowed): 0.20 x 12.5 % = 0.025 -> 0.03 (half up, not half even)."""
    store_pricing(tax_rate="12.5", delivery_fee="0.00", free_delivery_from=None)
    assert get_pricing(api)["tax_rate"] == D("12.5")
    p = make_product(price=D("0.10"), stock=10)
    buyer = new_user("prtax")
    cart = fill_cart(api, buyer["token"], (p["id"], 2))
    expected = _priced("0.20", "0.00", "0.00", "0.03", "0.23")
    assert amounts(cart) == expected, cart
    o = assert_order(assert_status(place_order(api, order_body((p["id"], 2)), token=buyer["token"]), 201))
    assert amounts(o) == expected, o


def test_bad_setting_on_reload_keeps_the_running_settings(api, store_pricing):
    """A reload that reads an invalid value keeps the running settings (a reload never stops the process)."""
    from stockroom_kit.stack import ResponderSettings, responder_indexes, responder_pid

    pids = {i: responder_pid(i) for i in responder_indexes()}
    store_pricing(tax_rate="7", delivery_fee="1.00", free_delivery_from=None)
    settings = ResponderSettings()
    try:
        settings.path.write_text(settings.original + "export STOCKROOM_TAX_RATE=101\n")
        settings.changed = True
        with pytest.raises(AssertionError, match="reload"):
            from stockroom_kit.stack import reload_responders

            reload_responders(seconds=10)
        assert get_pricing(api) == {"tax_rate": D("7"), "delivery_fee": D("1.00"), "free_delivery_from": None}
        assert {i: responder_pid(i) for i in responder_indexes()} == pids, "a responder was replaced"
    finally:
        settings.restore()


# ---------------------------------------------------------------- the contract's example settings


@pytest.fixture(scope="module")
def example_settings(url):
    """tax 13, fee 5.00, free from 100.00, for the rest of this module; restored afterwards."""
    client = Api(url)
    pricing = StorePricing(client)
    try:
        pricing.set(**EXAMPLE)
        yield EXAMPLE
    finally:
        try:
            pricing.restore()
        finally:
            client.close()


def test_pricing_reports_the_settings(api, example_settings):
    body = assert_status(api.get(PRICING), 200)
    assert body == {"tax_rate": D("13"), "delivery_fee": D("5.00"), "free_delivery_from": D("100.00")}, body


def test_contract_example(api, make_product, make_promo_code, new_user, example_settings):
    """Two units at 19.99 with a 10% code: 39.98, 4.00, 5.00, 5.33, 46.31 in the cart, the order
    from checkout and a direct order with the code."""
    p = make_product(price=D("19.99"), stock=10)
    code = make_promo_code(kind="percent", value=D("10.00"))
    expected = _priced("39.98", "4.00", "5.00", "5.33", "46.31")
    assert expected_pricing([(D("19.99"), 2)], code, **example_settings) == expected

    buyer = new_user("prex")
    cart = fill_cart(api, buyer["token"], (p["id"], 2), code=code["code"].lower())
    assert_cart(cart, lines=[(p["id"], 2)], promo_code=code["code"], applies=True)
    assert amounts(cart) == expected, cart
    o = _checkout_order(api, buyer, expected, code["code"])
    assert cart_lines(o) == [(p["id"], 2)]
    assert product_stock(api, p["id"]) == 8

    other = new_user("prex2")
    r = place_order(api, {"items": [{"product_id": p["id"], "quantity": 2}], "promo_code": code["code"]},
                    token=other["token"])
    direct = assert_order(assert_status(r, 201), user_id=other["user"]["id"])
    assert amounts(direct) == expected and direct["promo_code"] == code["code"], direct
    assert product_stock(api, p["id"]) == 6


@pytest.mark.parametrize(
    "price,qty,code,expected",
    [
        # subtotal exactly at the threshold: free
        ("50.00", 2, None, ("100.00", "0.00", "0.00", "13.00", "113.00")),
        # one cent below: the fee, and the tax on it; 104.99 x 13 % = 13.6487 -> 13.65
        ("99.99", 1, None, ("99.99", "0.00", "5.00", "13.65", "118.64")),
        # the threshold compares subtotal - discount: 110.00 - 10.00 = 100.00 -> free
        ("110.00", 1, ("amount", "10.00"), ("110.00", "10.00", "0.00", "13.00", "113.00")),
        # 100.00 - 0.01 = 99.99 -> the fee
        ("100.00", 1, ("amount", "0.01"), ("100.00", "0.01", "5.00", "13.65", "118.64")),
        # a percent code bringing it exactly to the threshold: 125.00 - 25.00
        ("125.00", 1, ("percent", "20.00"), ("125.00", "25.00", "0.00", "13.00", "113.00")),
    ],
    ids=["at-threshold", "cent-below", "amount-code-to-threshold", "amount-code-below", "percent-to-threshold"],
)
def test_free_delivery_threshold(api, make_product, make_promo_code, new_user, example_settings, price, qty, code,
                                 expected):
    p = make_product(price=D(price), stock=5)
    promo = make_promo_code(kind=code[0], value=D(code[1])) if code else None
    want = _priced(*expected)
    assert expected_pricing([(D(price), qty)], promo, **example_settings) == want
    buyer = new_user("prfree")
    cart = fill_cart(api, buyer["token"], (p["id"], qty), code=promo["code"] if promo else None)
    assert_cart(cart, applies=promo is not None)
    assert amounts(cart) == want, cart
    _checkout_order(api, buyer, want, promo["code"] if promo else None)


def test_amount_code_larger_than_the_subtotal(api, make_product, make_promo_code, new_user, example_settings):
    """discount = min(value, subtotal): 19.99; the fee is still due (0.00 < 100.00), tax 13 % of 5.00."""
    p = make_product(price=D("19.99"), stock=5)
    code = make_promo_code(kind="amount", value=D("50.00"))
    want = _priced("19.99", "19.99", "5.00", "0.65", "5.65")
    assert expected_pricing([(D("19.99"), 1)], code, **example_settings) == want
    buyer = new_user("pramt")
    cart = fill_cart(api, buyer["token"], (p["id"], 1), code=code["code"])
    assert_cart(cart, promo_code=code["code"], applies=True)
    assert amounts(cart) == want, cart
    _checkout_order(api, buyer, want, code["code"])
    # the same through POST /orders
    other = new_user("pramt2")
    o = assert_order(assert_status(place_order(
        api, {"product_id": p["id"], "quantity": 1, "promo_code": code["code"]}, token=other["token"]), 201))
    assert amounts(o) == want, o


def test_hundred_percent_code(api, make_product, make_promo_code, new_user, example_settings):
    p = make_product(price=D("19.99"), stock=5)
    code = make_promo_code(kind="percent", value=D("100.00"))
    want = _priced("39.98", "39.98", "5.00", "0.65", "5.65")
    assert expected_pricing([(D("19.99"), 2)], code, **example_settings) == want
    buyer = new_user("pr100")
    cart = fill_cart(api, buyer["token"], (p["id"], 2), code=code["code"])
    assert amounts(cart) == want, cart
    _checkout_order(api, buyer, want, code["code"])


def test_empty_cart_pricing(api, make_promo_code, new_user, example_settings):
    """An empty cart pays nothing: no delivery, no tax, also with a code on it (which does not apply)."""
    buyer = new_user("prempty")
    cart = get_cart(api, buyer["token"])
    assert_cart(cart, lines=[], promo_code=None, applies=False)
    assert cart["updated_at"] is None, cart
    assert amounts(cart) == _priced(0, 0, 0, 0, 0)
    code = make_promo_code(kind="amount", value=D("5.00"))
    cart = assert_cart(assert_status(apply_code(api, code["code"], token=buyer["token"]), 200),
                       lines=[], promo_code=code["code"], applies=False)
    assert amounts(cart) == _priced(0, 0, 0, 0, 0), cart
    assert_error(checkout(api, buyer["token"]), 409, "cart_empty")


def test_discount_rounds_half_up(api, make_product, make_promo_code, new_user, example_settings):
    """0.20 x 12.5 % = 0.025 -> 0.03; tax (0.17 + 5.00) x 13 % = 0.6721 -> 0.67."""
    p = make_product(price=D("0.10"), stock=5)
    code = make_promo_code(kind="percent", value=D("12.50"))
    want = _priced("0.20", "0.03", "5.00", "0.67", "5.84")
    assert expected_pricing([(D("0.10"), 2)], code, **example_settings) == want
    buyer = new_user("prhalf")
    assert amounts(fill_cart(api, buyer["token"], (p["id"], 2), code=code["code"])) == want
    _checkout_order(api, buyer, want, code["code"])


def test_tax_half_cent_rounds_up(api, make_product, new_user, example_settings):
    """(1.50 + 5.00) x 13 % = 0.845 -> 0.85 (half even would give 0.84)."""
    p = make_product(price=D("1.50"), stock=5)
    want = _priced("1.50", "0.00", "5.00", "0.85", "7.35")
    buyer = new_user("prtaxh")
    assert amounts(fill_cart(api, buyer["token"], (p["id"], 1))) == want
    o = assert_order(assert_status(place_order(api, order_body((p["id"], 1)), token=buyer["token"]), 201))
    assert amounts(o) == want, o


def test_code_below_its_minimum_gives_no_discount(api, make_product, make_promo_code, new_user, example_settings):
    p = make_product(price=D("20.00"), stock=10)
    code = make_promo_code(kind="percent", value=D("10.00"), min_subtotal=D("50.00"))
    buyer = new_user("prmin")
    cart = fill_cart(api, buyer["token"], (p["id"], 2), code=code["code"])
    assert_cart(cart, promo_code=code["code"], applies=False)
    assert amounts(cart) == expected_pricing([(D("20.00"), 2)], None, **example_settings)  # 40.00, 0, 5.00, 5.85
    assert amounts(cart) == _priced("40.00", "0.00", "5.00", "5.85", "50.85")
    # reaching the minimum exactly: the code applies
    cart = assert_cart(assert_status(
        add_to_cart(api, p["id"], 1, token=buyer["token"]), 200),
        applies=True)
    want = _priced("60.00", "6.00", "5.00", "7.67", "66.67")  # (54.00 + 5.00) x 13 % = 7.67
    assert expected_pricing([(D("20.00"), 3)], code, **example_settings) == want
    assert amounts(cart) == want, cart
    _checkout_order(api, buyer, want, code["code"])


@pytest.mark.parametrize(
    "lines,code",
    [
        ([("0.10", 3), ("19.99", 3)], None),
        ([("33.33", 3)], ("percent", "33.33")),
        ([("0.01", 7), ("9.95", 1)], ("percent", "0.01")),
        ([("49.99", 2), ("0.02", 1)], ("amount", "0.01")),
        ([("12345.67", 3)], ("amount", "99.99")),
        ([("1.05", 5), ("2.15", 3), ("3.33", 1)], ("percent", "7.77")),
    ],
)
def test_carts_and_orders_follow_the_rule(api, make_product, make_promo_code, new_user, example_settings, lines,
                                          code):
    products = [make_product(price=D(price), stock=50) for price, _ in lines]
    promo = make_promo_code(kind=code[0], value=D(code[1])) if code else None
    want = expected_pricing([(D(price), qty) for price, qty in lines], promo, **example_settings)
    buyer = new_user("prrule")
    pairs = [(p["id"], qty) for p, (_, qty) in zip(products, lines)]
    cart = fill_cart(api, buyer["token"], *pairs, code=promo["code"] if promo else None)
    assert amounts(cart) == want, cart
    body = order_body(*pairs)
    if promo:
        body["promo_code"] = promo["code"]
    direct = assert_order(assert_status(place_order(api, body, token=buyer["token"]), 201))
    assert amounts(direct) == want, direct
    _checkout_order(api, buyer, want, promo["code"] if promo else None)


def test_cart_is_priced_with_current_prices(api, admin_api, make_product, new_user, example_settings):
    """The cart shows the product's current price; checkout charges it (never the price when added)."""
    p = make_product(price=D("10.00"), stock=10)
    buyer = new_user("prcur")
    fill_cart(api, buyer["token"], (p["id"], 2))
    assert_status(admin_api.put(f"/api/v1/products/{p['id']}",
                                json={"name": p["name"] + " v2", "price": D("60.00"), "stock": 10}), 200)
    cart = get_cart(api, buyer["token"])
    assert cart["items"][0]["unit_price"] == D("60.00") and cart["items"][0]["name"] == p["name"] + " v2", cart
    want = _priced("120.00", "0.00", "0.00", "15.60", "135.60")
    assert amounts(cart) == want
    o = _checkout_order(api, buyer, want)
    assert o["items"][0]["unit_price"] == D("60.00") and o["items"][0]["name"] == p["name"] + " v2", o


def test_total_beyond_the_largest_amount_is_422(api, make_product, new_user, example_settings):
    """9999999999.00 fits, but with 13 % tax the total does not: 422 field "items" for checkout and a
    direct order, and nothing changes."""
    big = make_product(price=D("99999999.99"), stock=1000)
    buyer = new_user("prbig")
    cart = fill_cart(api, buyer["token"], (big["id"], 100))
    assert amounts(cart) == _priced("9999999999.00", "0.00", "0.00", "1299999999.87", "11299999998.87"), cart
    assert_error(checkout(api, buyer["token"]), 422, "validation_failed", field="items")
    assert_error(place_order(api, order_body((big["id"], 100)), token=buyer["token"]), 422, "validation_failed",
                 field="items")
    assert get_cart(api, buyer["token"]) == cart
    assert product_stock(api, big["id"]) == 1000
