"""Issue 3: `stockroomctl check` — clean after orders, cancels, restocks and PUTs; a stock or an order line
changed behind the application's back is reported (by product id) with exit status 1; repaired, clean again.

Only products created here are broken, and every break is repaired in a `finally`, so the checks of the
other tests stay meaningful."""

import re

from stockroom_kit.client import assert_status, cancel_path, order_body, place_order, product_stock, restock
from stockroom_kit.stack import assert_check_clean, db_exec, run_check


def _assert_check_names(product_id):
    proc = run_check()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"check exited {proc.returncode}, not 1 (mismatches found), on a broken ledger:\n{out}"
    assert re.search(rf"(?<!\d){product_id}(?!\d)", out), f"check output does not name product {product_id}:\n{out}"
    return out


def _activity(api, admin_api, make_product, customer_token):
    """Orders, a cancel, a restock and a PUT on a fresh product; returns (product, a live order)."""
    p = make_product(stock=20)
    q = make_product(stock=20)
    o1 = assert_status(place_order(api, order_body((p["id"], 3), (q["id"], 1)), token=customer_token), 201)
    o2 = assert_status(place_order(api, order_body((p["id"], 2)), token=customer_token), 201)
    assert_status(api.post(cancel_path(o1["id"]), token=customer_token), 200)
    restock(admin_api, p["id"], 5)
    assert_status(admin_api.put(f"/api/v1/products/{q['id']}",
                                json={"name": q["name"], "price": q["price"], "stock": 7}), 200)
    o3 = assert_status(place_order(api, order_body((q["id"], 2)), token=customer_token), 201)
    assert product_stock(api, p["id"]) == 20 - 2 + 5
    assert product_stock(api, q["id"]) == 5
    return p, q, o2, o3


def test_check_clean_after_activity(api, admin_api, make_product, customer_token):
    _activity(api, admin_api, make_product, customer_token)
    assert_check_clean()


def test_check_reports_a_stock_changed_behind_the_ledger(api, admin_api, make_product, customer_token):
    p, _, _, _ = _activity(api, admin_api, make_product, customer_token)
    pid = int(p["id"])
    assert_check_clean()
    db_exec(f"UPDATE products SET stock = stock + 1 WHERE id = {pid}")
    try:
        _assert_check_names(pid)
    finally:
        db_exec(f"UPDATE products SET stock = stock - 1 WHERE id = {pid}")
    assert product_stock(api, pid) == 23
    assert_check_clean()


def test_check_reports_an_order_line_that_disagrees_with_the_ledger(api, admin_api, make_product, customer_token):
    _, q, _, o3 = _activity(api, admin_api, make_product, customer_token)
    qid, oid = int(q["id"]), int(o3["id"])
    assert_check_clean()
    # stock and ledger still agree; the live order's line no longer matches its ledger rows
    db_exec(f"UPDATE order_items SET quantity = quantity + 1 WHERE order_id = {oid} AND product_id = {qid}")
    try:
        _assert_check_names(qid)
    finally:
        db_exec(f"UPDATE order_items SET quantity = quantity - 1 WHERE order_id = {oid} AND product_id = {qid}")
    assert_check_clean()


def _code_used_three_times(api, make_product, make_promo_code, new_user):
    """A code redeemed by three orders of one fresh customer."""
    token = new_user("check")["token"]
    p = make_product(stock=20)
    code = make_promo_code(max_redemptions=5, max_per_user=3)
    for _ in range(3):
        assert_status(place_order(api, order_body((p["id"], 1)) | {"promo_code": code["code"]}, token=token), 201)
    return code


def test_a_limit_lowered_below_the_redemptions_is_no_mismatch(api, admin_api, make_product, make_promo_code, new_user):
    """PUT keeps the redemptions and may lower the limits below them (docs/api.md): the check
    (found by the fuzzer) must not call that a mismatch; an order can no longer use the code."""
    code = _code_used_three_times(api, make_product, make_promo_code, new_user)
    body = {k: code[k] for k in ("code", "kind", "value")} | {"max_redemptions": 1, "max_per_user": 1}
    assert_status(admin_api.put(f"/api/v1/promo-codes/{code['id']}", json=body), 200)
    assert_check_clean()


def test_check_reports_redemptions_above_a_limit_that_held_when_they_were_made(
        api, make_product, make_promo_code, new_user):
    code = _code_used_three_times(api, make_product, make_promo_code, new_user)
    # The limits lowered behind the API, dated before the orders: as if the orders had broken them.
    db_exec(f"UPDATE promo_codes SET max_redemptions = 1, max_per_user = 1, updated_at = created_at - INTERVAL 1 DAY "
            f"WHERE id = {int(code['id'])}")
    try:
        proc = run_check()
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert re.search(rf"promo code {code['id']}: redemptions 3, non-cancelled orders 3, limit 1", proc.stdout), proc.stdout
        assert re.search(rf"promo code {code['id']}, user \d+: redemptions 3, non-cancelled orders 3, limit 1", proc.stdout), proc.stdout
    finally:
        db_exec(f"UPDATE promo_codes SET max_redemptions = NULL, max_per_user = NULL WHERE id = {int(code['id'])}")
