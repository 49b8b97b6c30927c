"""Issue 3: the schema itself refuses negative stock (checked against the real MariaDB), so no code
path — ours or a hand-written UPDATE — can oversell."""

import subprocess

from stockroom_kit.client import assert_status
from stockroom_kit.stack import stack_dir


def _db_env():
    values = {}
    for line in (stack_dir() / "env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            values[key] = value.strip("'\"")
    return values


def _sql(statement):
    env = _db_env()
    return subprocess.run(
        ["mariadb", "-S", env["STOCKROOM_DB_SOCKET"], "-u", env["STOCKROOM_DB_USER"],
         f"-p{env['STOCKROOM_DB_PASSWORD']}", env["STOCKROOM_DB_NAME"], "-N", "-e", statement],
        capture_output=True, text=True, timeout=30)


def test_stock_cannot_go_below_zero_even_by_hand(make_product, api):
    product = make_product(stock=3)
    pid = int(product["id"])
    # A decrement past zero is an UNSIGNED arithmetic error (1690), whatever the session's sql_mode.
    for mode in ("STRICT_ALL_TABLES", ""):
        result = _sql(f"SET SESSION sql_mode = '{mode}'; UPDATE products SET stock = stock - 4 WHERE id = {pid}")
        assert result.returncode != 0, f"MariaDB accepted a negative stock with sql_mode={mode!r}"
        assert "1690" in result.stderr and "out of range" in result.stderr, result.stderr
    # Assigning a negative value: refused in strict mode, which every Stockroom connection sets.
    # (With sql_mode='' MariaDB would clamp it to 0 with a warning; that is why the mode is set.)
    strict = _sql(f"SET SESSION sql_mode = 'STRICT_ALL_TABLES'; UPDATE products SET stock = -1 WHERE id = {pid}")
    assert strict.returncode != 0 and ("1264" in strict.stderr or "4025" in strict.stderr), strict.stderr
    after = _sql(f"SELECT stock FROM products WHERE id = {pid}")
    assert after.stdout.strip() == "3", after.stdout
    assert int(assert_status(api.get(f"/api/v1/products/{pid}"), 200)["stock"]) == 3
