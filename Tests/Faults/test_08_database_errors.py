"""Fault 8: every class of database error, met off the happy path (issue 8, items 1 and 2).

A root session of the `mariadb` client holds row locks the way another transaction would, and the
cases check what each class of error becomes through nginx:
- a lock wait timeout on a *later* row of a multi-row statement (it arrives with a row fetch, and
  on the connection handle, not the statement's) is retried, then 503 `busy`, never 500; the same
  for cancel, restock, PUT and DELETE on a locked row;
- a deadlock that InnoDB reports in the middle of a row fetch is retried and the order succeeds;
- KILL CONNECTION of a responder's connection while it waits for a row is 503
  `database_unavailable` and the connection is replaced; KILL QUERY is 503 `busy`;
- with the server's `max_prepared_stmt_count` nearly reached, orders of 1..50 lines (so many
  statement shapes) never answer 500, and each connection holds a bounded number of statements.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.chaos import LOCK_WAIT_TIMEOUT
from stockroom_kit.client import ORDERS, Api, assert_error, assert_order, assert_status, cancel_path, describe
from stockroom_kit.stack import assert_check_clean, db_root, row_locked, stack_env, wait_for

PRODUCTS = "/api/v1/products"
# 4 attempts, each waiting LOCK_WAIT_TIMEOUT for the row, plus backoff: well under nginx's 30 s.
BUSY_WITHIN = 4 * LOCK_WAIT_TIMEOUT + 5


class LockHolder:
    """A root `mariadb` session with an open transaction, fed statements one at a time."""

    def __init__(self) -> None:
        sock = stack_env()["STOCKROOM_DB_SOCKET"]
        self.proc = subprocess.Popen(
            ["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-B", "-n", "--force", "stockroom"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self.run("SET SESSION innodb_lock_wait_timeout = 30; START TRANSACTION")

    def run(self, sql: str, wait: bool = True) -> str:
        """Sends `sql`; with `wait`, returns its output once a marker after it comes back."""
        marker = f"done-{uuid.uuid4().hex}"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{sql};\nSELECT '{marker}';\n")
        self.proc.stdin.flush()
        if not wait:
            return ""
        lines = []
        while True:
            line = self.proc.stdout.readline()
            assert line, f"the mariadb session ended: {''.join(lines)}"
            if line.strip() == marker:
                return "".join(lines)
            lines.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("ROLLBACK;\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def lock_rows(*product_ids: int) -> LockHolder:
    holder = LockHolder()
    holder.run(f"SELECT id FROM products WHERE id IN ({', '.join(str(int(p)) for p in product_ids)}) FOR UPDATE")
    for pid in product_ids:
        assert row_locked(pid), f"product {pid} is not locked"
    return holder


def waiting_connections() -> list[int]:
    """Connections of the application user waiting for the product rows of an order: from the
    processlist, which is current (information_schema.innodb_trx is a cache up to 0.1 s old, and a
    stale id there can name a connection that has moved on)."""
    out = db_root(
        "SELECT id FROM information_schema.processlist WHERE user = 'stockroom' AND command = 'Execute' "
        "AND time_ms > 100 AND info LIKE 'SELECT id, name, price, stock FROM products WHERE id IN %FOR UPDATE'"
    ).stdout
    return [int(x) for x in out.split()]


def order(api: Api, token: str, *lines: tuple[int, int], timeout: float = 32):
    body = {"items": [{"product_id": p, "quantity": q} for p, q in lines]}
    return api.post(ORDERS, json=body, token=token, timeout=timeout)


def global_status(name: str) -> int:
    return int(db_root(f"SHOW GLOBAL STATUS LIKE '{name}'").stdout.split()[1])


def test_lock_timeout_on_a_later_row_is_busy_for_every_writer(admin_api, new_customer_token, make_products, case_report):
    a, b, c = sorted(make_products(100, 100, 100))
    token = new_customer_token()
    api = Api()
    # An order on b and c to cancel while c is locked; the cancel's UPDATE meets c second.
    placed = assert_order(assert_status(order(api, token, (b, 1), (c, 1)), 201))
    holder = lock_rows(c)
    try:
        calls = {
            "order a+c": lambda: order(Api(), token, (a, 1), (c, 1)),
            "order c": lambda: order(Api(), token, (c, 1)),
            "cancel b+c": lambda: Api().post(cancel_path(placed["id"]), token=token, timeout=32),
            "restock c": lambda: admin_api.post(f"{PRODUCTS}/{c}/restock", json={"quantity": 5}, timeout=32),
            "put c": lambda: admin_api.put(f"{PRODUCTS}/{c}", json={"name": "locked", "price": 1.00, "stock": 7}, timeout=32),
            "delete c": lambda: admin_api.delete(f"{PRODUCTS}/{c}", timeout=32),
        }
        started = time.monotonic()
        with ThreadPoolExecutor(len(calls)) as pool:
            futures = {label: pool.submit(call) for label, call in calls.items()}
            answers = {label: f.result() for label, f in futures.items()}
        elapsed = time.monotonic() - started
    finally:
        holder.close()
    for label, r in answers.items():
        case_report.add(label, f"{r.status_code} {r.text[:80]}")
        assert_error(r, 503, "busy")
        assert r.headers.get("Retry-After"), f"{label}: {describe(r)}"
    assert elapsed < BUSY_WITHIN, f"answers took {elapsed:.1f} s"
    case_report.add("all answered within", f"{elapsed:.1f} s")
    # Nothing was half-done: the rows are as before, and they sell again.
    for pid, stock in ((a, 100), (b, 99), (c, 99)):
        assert assert_status(api.get(f"{PRODUCTS}/{pid}"), 200)["stock"] == stock
    assert_status(order(api, token, (a, 1), (c, 1)), 201)
    assert_status(api.post(cancel_path(placed["id"]), token=token), 200)
    assert_check_clean()


def test_deadlock_in_a_row_fetch_is_retried(admin_api, new_customer_token, make_products, case_report):
    a, b = sorted(make_products(50, 50))
    token = new_customer_token()
    db_root("CREATE TABLE IF NOT EXISTS stockroom.fault_ballast (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
    db_root("INSERT IGNORE INTO stockroom.fault_ballast SELECT seq, 0 FROM stockroom.seq_1_to_500")
    holder = LockHolder()
    try:
        # Weight first (500 rows changed), so InnoDB picks the order as the deadlock's victim.
        holder.run("UPDATE fault_ballast SET v = v + 1")
        holder.run(f"SELECT id FROM products WHERE id = {b} FOR UPDATE")
        result: dict[str, object] = {}
        buyer = threading.Thread(target=lambda: result.update(r=order(Api(), token, (a, 1), (b, 1))))
        buyer.start()
        assert wait_for(waiting_connections, 5), "the order never waited for row b"
        # The holder now asks for a, which the order holds: a deadlock; the order is rolled back
        # with 1213 in its row fetch, retries, waits for b again, and gets it when we roll back.
        holder.run(f"SELECT id FROM products WHERE id = {a} FOR UPDATE", wait=False)
        time.sleep(0.5)
        held = holder.run("ROLLBACK")
        buyer.join(40)
    finally:
        holder.close()
        db_root("DROP TABLE IF EXISTS stockroom.fault_ballast")
    r = result["r"]
    case_report.add("order after a deadlock", f"{r.status_code}")
    assert_order(assert_status(r, 201))
    # The holder got row a, so the order was the deadlock's victim (else the case tested nothing).
    assert str(a) in held.split() and "1213" not in held, f"the holder was the victim: {held!r}"
    assert_check_clean()


def test_killed_connection_while_waiting_for_a_row(admin_api, new_customer_token, make_products, case_report):
    a, b = sorted(make_products(50, 50))
    token = new_customer_token()
    for kill, status, code in (("KILL CONNECTION", 503, "database_unavailable"), ("KILL QUERY", 503, "busy")):
        holder = lock_rows(b)
        try:
            result: dict[str, object] = {}
            buyer = threading.Thread(target=lambda: result.update(r=order(Api(), token, (a, 1), (b, 1))))
            buyer.start()
            waiting = wait_for(waiting_connections, 5)
            if not waiting:
                buyer.join(40)
                r = result.get("r")
                raise AssertionError(f"{kill}: the order never waited for row b: {r is not None and (r.status_code, r.text, r.elapsed)}")
            db_root(f"{kill} {waiting[0]}")
            buyer.join(40)
        finally:
            holder.close()
        r = result["r"]
        case_report.add(kill, f"{r.status_code} {r.text[:80]}")
        assert_error(r, status, code)
    # The killed connection was replaced: every thread serves again.
    api = Api()
    for _ in range(40):
        assert_status(api.get("/health"), 200)
    assert_status(order(api, token, (a, 1), (b, 1)), 201)
    assert_check_clean()


def test_prepared_statement_limit_never_answers_500(admin_api, customer_tokens, make_products, case_report):
    stocks = make_products(*([100_000] * 60))
    products = sorted(stocks)
    before = global_status("Prepared_stmt_count")
    limit = int(db_root("SELECT @@GLOBAL.max_prepared_stmt_count").stdout)
    # Just above what is prepared now: new statement shapes soon find the server full.
    db_root(f"SET GLOBAL max_prepared_stmt_count = {before + 20}")
    statuses: list[tuple[int, str]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 20

    def buyer(index: int) -> None:
        api = Api()
        rng = random.Random(index)
        token = customer_tokens[index % len(customer_tokens)]
        while time.monotonic() < deadline and len(statuses) < 1200:
            lines = rng.sample(products, rng.randint(1, 50))
            r = order(api, token, *[(p, 1) for p in lines])
            code = r.json().get("error", {}).get("code", "") if r.status_code >= 400 else ""
            if r.status_code == 201 and rng.random() < 0.3:
                c = api.post(cancel_path(r.json()["id"]), token=token)
                with lock:
                    statuses.append((c.status_code, "cancel"))
            with lock:
                statuses.append((r.status_code, code))

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(buyer, range(8)))
        during = global_status("Prepared_stmt_count")
    finally:
        db_root(f"SET GLOBAL max_prepared_stmt_count = {limit}")
    counts: dict[str, int] = {}
    for status, code in statuses:
        counts[f"{status} {code}".strip()] = counts.get(f"{status} {code}".strip(), 0) + 1
    case_report.add("answers under a nearly full statement limit", counts)
    case_report.add("prepared statements before / at the end", f"{before} / {during}")
    assert not [s for s, _ in statuses if s >= 500 and s != 503], counts
    assert all(code in ("", "cancel", "database_unavailable", "busy") for s, code in statuses if s == 503), counts
    created = sum(1 for s, code in statuses if s == 201)
    assert created >= 0.9 * sum(1 for s, code in statuses if code != "cancel"), counts
    # With the limit back, every shape is served.
    api = Api()
    token = customer_tokens[0]
    for n in (1, 3, 17, 50):
        assert_status(order(api, token, *[(p, 1) for p in products[:n]]), 201)
    assert_check_clean()
