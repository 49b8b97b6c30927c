"""The books after every cluster fault case (issue 11), checked on each Galera node directly:

1. the cluster has settled (3 nodes Synced, one last committed write) and the workers have no
   pending order of the case left;
2. on EVERY node: every order acknowledged with 201 (orders and checkouts) is there under its
   Idempotency-Key; one order per key and a key for every order of the case (none run twice);
   stock + units sold (lines of orders not cancelled) = initial stock, exactly, per product;
   `stockroomctl check` clean against that node alone;
3. the three nodes hold the same rows for the case (orders, keys, lines, stock);
4. no order was processed twice: the two app hosts' workers log "Order #N processed" once per
   order between them.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

from .chaos import OrderLoad
from .cluster import NODES, AppHost, app_hosts, node_address, node_rows, wait_cluster_quiet
from .stack import log_size, read_log_from, wait_for

_PROCESSED = re.compile(r"Order #(\d+) processed")


class WorkerLogs:
    """Where each app host's worker log stood when the case began."""

    def __init__(self) -> None:
        self.offsets: dict[int, tuple[Path, int]] = {h.n: (h.worker_log(), log_size(h.worker_log())) for h in app_hosts()}

    def processed(self) -> dict[int, list[int]]:
        """App host -> ids of the orders its worker logged as processed since then."""
        return {n: [int(m.group(1)) for m in _PROCESSED.finditer(read_log_from(path, offset))]
                for n, (path, offset) in self.offsets.items()}


def _in(ids: Any) -> str:
    return ",".join(str(int(i)) for i in sorted(ids)) or "NULL"


def node_books(n: int, initial: dict[int, int], baseline: int) -> dict[str, Any]:
    """The case's rows on node n."""
    products = _in(initial)
    orders = {int(i): s for i, s in node_rows(n, f"SELECT id, status FROM stockroom.orders WHERE id > {int(baseline)}")}
    keys = [(k, int(o)) for k, o in node_rows(
        n, f"SELECT idempotency_key, order_id FROM stockroom.idempotency_keys WHERE order_id > {int(baseline)}")]
    lines = [(int(o), int(p), int(q)) for o, p, q in node_rows(
        n, f"SELECT order_id, product_id, quantity FROM stockroom.order_items "
           f"WHERE order_id > {int(baseline)} AND product_id IN ({products})")]
    stock = {int(p): int(s) for p, s in node_rows(n, f"SELECT id, stock FROM stockroom.products WHERE id IN ({products})")}
    return {"orders": orders, "keys": sorted(keys), "lines": sorted(lines), "stock": stock}


def check_node_books(n: int, books: dict[str, Any], initial: dict[int, int], acked: dict[str, int]) -> str:
    orders, stock = books["orders"], books["stock"]
    order_of_key: dict[str, int] = {}
    keys_of: dict[int, list[str]] = collections.defaultdict(list)
    for key, oid in books["keys"]:
        assert key not in order_of_key, f"node {n}: key {key} stored twice"
        order_of_key[key] = oid
        keys_of[oid].append(key)
    missing = {k: oid for k, oid in acked.items() if oid not in orders}
    assert not missing, f"node {n}: {len(missing)} orders acknowledged with 201 are missing: {dict(list(missing.items())[:10])}"
    wrong = {k: (oid, order_of_key.get(k)) for k, oid in acked.items() if order_of_key.get(k) != oid}
    assert not wrong, f"node {n}: acknowledged key -> order differs from the stored one: {dict(list(wrong.items())[:10])}"
    case_orders = {oid for oid, _, _ in books["lines"]}
    twice = {oid: ks for oid, ks in keys_of.items() if len(ks) > 1}
    assert not twice, f"node {n}: orders stored under two keys: {twice}"
    keyless = sorted(case_orders - set(keys_of))
    assert not keyless, f"node {n}: orders of the case without an Idempotency-Key row (run twice?): {keyless[:20]}"
    sold = {pid: 0 for pid in initial}
    for oid, pid, qty in books["lines"]:
        if orders.get(oid) != "cancelled":
            sold[pid] += qty
    bad = [f"product {pid}: stock {stock.get(pid)} + sold {sold[pid]} != initial {stock0}"
           for pid, stock0 in initial.items() if stock.get(pid) is None or stock[pid] + sold[pid] != stock0]
    assert not bad, f"node {n}: stock does not add up:\n" + "\n".join(bad)
    cancelled = sum(1 for oid in case_orders if orders.get(oid) == "cancelled")
    return (f"{len(case_orders)} orders ({cancelled} cancelled), {sum(sold.values())} units sold, "
            f"all {len(set(acked.values()))} acknowledged present, one key per order, stock + sold = initial")


def verify_cluster_books(load: OrderLoad, initial: dict[int, int], baseline: int, workers: WorkerLogs) -> dict[str, Any]:
    """The checks above; returns the figures for the case report."""
    result: dict[str, Any] = {}
    acked = load.acknowledged()

    # 1. Settled: the workers drain the case's pending orders, then the nodes agree on the last write.
    def pending() -> int:
        return int(node_rows(2, f"SELECT COUNT(*) FROM stockroom.orders WHERE id > {int(baseline)} "
                                f"AND status = 'pending'")[0][0])

    left = wait_for(lambda: pending() == 0 or None, 30, 0.5)
    assert left, f"{pending()} orders of the case still pending 30 s after the load (are both workers running?)"
    seqnos = wait_cluster_quiet()
    result["settled"] = f"no order pending; all nodes at last committed {seqnos[1]}"

    # 2. Every node on its own.
    books = {n: node_books(n, initial, baseline) for n in NODES}
    for n in NODES:
        result[f"node {n}"] = check_node_books(n, books[n], initial, acked)
    host = AppHost(1)
    for n in NODES:
        proc = host.ctl("check", db_hosts=node_address(n))
        assert proc.returncode == 0 and re.search(r"check: \d+ products consistent", proc.stdout), (
            f"stockroomctl check against node {n} alone ({proc.returncode}):\nstdout: {proc.stdout[-2000:]}\n"
            f"stderr: {proc.stderr[-2000:]}")
        result[f"check node {n}"] = proc.stdout.strip().splitlines()[-1]

    # 3. The same rows everywhere.
    for n in NODES[1:]:
        for part in ("orders", "keys", "lines", "stock"):
            assert books[n][part] == books[1][part], (
                f"node {n} and node 1 differ in {part}: {_difference(books[1][part], books[n][part])}")
    result["nodes agree"] = "orders, keys, lines and stock identical on the 3 nodes"

    # 4. Processed once.
    processed = workers.processed()
    counts = collections.Counter(oid for ids in processed.values() for oid in ids)
    doubled = sorted(oid for oid, c in counts.items() if c > 1)
    assert not doubled, f"orders processed more than once by the workers: {doubled[:20]} " + \
        str({n: [oid for oid in ids if oid in doubled][:10] for n, ids in processed.items()})
    not_processed = sorted(oid for oid, status in books[1]["orders"].items() if status == "processed" and oid not in counts
                           and oid in {o for o, _, _ in books[1]["lines"]})
    result["workers"] = (", ".join(f"app{n} processed {len(ids)}" for n, ids in processed.items())
                         + f"; none twice; {len(not_processed)} processed orders of the case logged by no worker "
                           "(a worker whose COMMIT went through but whose answer was lost logs nothing)")
    result["_order_of_key"] = {key: oid for key, oid in books[1]["keys"]}
    return result


def _difference(a: Any, b: Any) -> str:
    if isinstance(a, dict):
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        return f"{len(diff)} differ, e.g. {dict(list(sorted(diff.items()))[:10])}"
    sa, sb = set(a), set(b)
    return f"only on node 1: {sorted(sa - sb)[:10]}, only on the other: {sorted(sb - sa)[:10]}"
