"""Issue 12: the workers' metrics (each on its own loopback port): orders processed, the backlog of
pending orders and how long the first of them has waited; the backlog goes back to 0 once the
orders are processed.

To hold a backlog still long enough to see it, the test stops both workers (SIGSTOP), places the
orders, locks their rows from another session (FOR UPDATE: the workers' claim skips locked rows,
while their count still sees them pending), and lets the workers go on; then it releases the rows.
"""

from __future__ import annotations

import re
import subprocess
import time

from stockroom_kit.client import assert_status, order_body, place_order, wait_order_status
from stockroom_kit.metrics import scrape, worker_targets
from stockroom_kit.plugin import observe
from stockroom_kit.stack import read_pid, sigcont, sigstop, stack_dir, stack_env, wait_for

ORDERS = 3
HOLD_SECONDS = 6
WORKER_PID = re.compile(r"^worker-(\d+)\.pid$")


def _worker_pids() -> list[int]:
    pids = [read_pid(f) for f in sorted(stack_dir().glob("worker-*.pid")) if WORKER_PID.match(f.name)]
    assert pids and all(pids), f"worker pid files: {pids}"
    return pids


def _processed_total(targets: dict[str, str]) -> float:
    return sum(scrape(url).value("stockroom_worker_orders_processed_total") for url in targets.values())


def _backlogs(targets: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Each worker's (pending orders, oldest pending age); (-1, -1) before its first count."""
    out = {}
    for name, url in targets.items():
        exposition = scrape(url)
        if "stockroom_worker_pending_orders" not in exposition.families:
            out[name] = (-1.0, -1.0)
            continue
        out[name] = (exposition.value("stockroom_worker_pending_orders"),
                     exposition.value("stockroom_worker_oldest_pending_order_age_seconds"))
    return out


def _hold_rows(order_ids: list[int]) -> subprocess.Popen:
    """A root session that locks the orders' rows for HOLD_SECONDS, then commits."""
    ids = ",".join(str(int(i)) for i in order_ids)
    sql = (f"START TRANSACTION; SELECT id FROM stockroom.orders WHERE id IN ({ids}) FOR UPDATE; "
           f"SELECT SLEEP({HOLD_SECONDS}); COMMIT;")
    return subprocess.Popen(["mariadb", "--no-defaults", "-S", stack_env()["STOCKROOM_DB_SOCKET"], "-uroot", "-N", "-B",
                             "-e", sql], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _rows_locked(order_ids: list[int]) -> bool:
    probe = subprocess.run(
        ["mariadb", "--no-defaults", "-S", stack_env()["STOCKROOM_DB_SOCKET"], "-uroot", "-N", "-B", "-e",
         f"START TRANSACTION; SELECT id FROM stockroom.orders WHERE id = {int(order_ids[0])} FOR UPDATE NOWAIT; ROLLBACK;"],
        capture_output=True, text=True, timeout=15)
    return probe.returncode != 0 and ("1205" in probe.stderr or "Lock wait" in probe.stderr or "NOWAIT" in probe.stderr)


def test_backlog_shows_pending_orders_and_returns_to_zero(api, make_product, customer_token):
    targets = worker_targets()
    assert len(targets) >= 2, targets
    processed_before = _processed_total(targets)
    product = make_product(stock=100)
    pids = _worker_pids()
    holder = None
    try:
        for pid in pids:
            sigstop(pid)
        orders = [assert_status(place_order(api, order_body((product["id"], 1)), token=customer_token), 201)["id"]
                  for _ in range(ORDERS)]
        placed = time.monotonic()
        holder = _hold_rows(orders)
        assert wait_for(lambda: _rows_locked(orders), 10, 0.1), "the orders' rows were not locked"
    finally:
        for pid in pids:
            sigcont(pid)

    # The workers count the backlog between batches: the locked orders are pending, and waiting.
    def held_backlog():
        backlogs = _backlogs(targets)
        ok = all(pending >= ORDERS and age >= 1 for pending, age in backlogs.values())
        return backlogs if ok else None

    seen = wait_for(held_backlog, HOLD_SECONDS - (time.monotonic() - placed) - 0.5, 0.2)
    last = _backlogs(targets)
    assert seen, f"while {ORDERS} pending orders were held, the workers showed {last}"

    assert holder is not None
    holder.wait(timeout=HOLD_SECONDS + 10)
    for order_id in orders:
        wait_order_status(api, order_id, "processed", token=customer_token, timeout=15)

    def drained():
        backlogs = _backlogs(targets)
        return backlogs if all(pending == 0 and age == 0 for pending, age in backlogs.values()) else None

    assert wait_for(drained, 10, 0.2), f"backlog after processing: {_backlogs(targets)}"
    processed = _processed_total(targets) - processed_before
    assert processed >= ORDERS, f"orders_processed_total grew by {processed} for {ORDERS} orders"
    observe(f"worker metrics: held backlog {seen}, then 0 on every worker; processed_total +{processed:.0f}")
