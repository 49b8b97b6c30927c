"""What the cluster fault cases share (issue 11): the load through the front nginx (orders, checkouts,
cancels, reads), its phases, and the answers each phase may see.

Allowed answers: 201, 409 (sold out, or a checkout finding its cart empty), 200/204 for reads, cart
writes and cancels, always; 503 `database_unavailable` or `busy` (or, where a case says so, the
front's 502) only for requests the fault could touch (answered after it struck and started before
the case's window ended); 500 never, and nothing else.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable

from .chaos import LOAD_STOCKS, ORDER_KINDS, Attempt, CaseReport, OrderLoad, allow, assert_answers, executed_despite
from .cluster import node_rows, responder_lines

CHECKOUT_RATIO = 0.10

# What a database fault may answer inside its window, for every kind of request.
DATABASE_TROUBLE = tuple((kind, 503, code) for kind in ("order", "checkout", "cart", "cancel", "read")
                         for code in ("database_unavailable", "busy"))


def start_load(tokens: list[str], products: Iterable[int]) -> OrderLoad:
    """The cases' load: 16 threads through the front (STOCKROOM_URL), 10 % checkouts."""
    return OrderLoad(tokens, list(products), checkout_ratio=CHECKOUT_RATIO).start()


def max_order_id() -> int:
    """The highest order id, read on node 2 (node 1 is the one the cases take down)."""
    return int(node_rows(2, "SELECT COALESCE(MAX(id), 0) FROM stockroom.orders")[0][0])


def new_load_products(make_products) -> dict[int, int]:
    return make_products(*LOAD_STOCKS)


@dataclass
class Phases:
    """Named instants of a case; attempts are put in the phase in which they started."""

    load: OrderLoad
    marks: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, name: str, at: float | None = None) -> float:
        t = time.monotonic() if at is None else at
        self.marks.append((name, t))
        return t

    def spans(self) -> list[tuple[str, float, float]]:
        out = []
        for i, (name, t) in enumerate(self.marks):
            end = self.marks[i + 1][1] if i + 1 < len(self.marks) else float("inf")
            out.append((name, t, end))
        return out

    def report(self, report: CaseReport) -> None:
        t0 = self.marks[0][1] if self.marks else self.load.t0
        for name, start, end in self.spans():
            attempts = self.load.select(started=(start, end))
            length = "" if end == float("inf") else f", {end - start:.1f} s"
            slowest = f", slowest {self.load.max_latency(attempts):.2f} s" if attempts else ""
            report.add(f"answers: {name} (from {start - t0:.1f} s{length}{slowest})", self.load.counts(attempts) or "none")


def assert_window(load: OrderLoad, fault_at: float, window_end: float, *trouble: tuple[str, int, str | None]) -> None:
    """Requests the fault may touch (answered after `fault_at`, started before `window_end`: those in
    flight when it struck included) may also get the `trouble` answers; all others only the normal
    ones. A failure quotes the first offending requests (relative times, request ids) and the app
    hosts' responder log lines of those ids."""
    def touched(a: Attempt) -> bool:
        return (a.end >= fault_at or a.status is None) and a.start < window_end

    inside = [a for a in load.select() if touched(a)]
    outside = [a for a in load.select() if not touched(a)]
    try:
        assert_answers(load, allow(), outside)
        assert_answers(load, allow(*trouble), inside)
    except AssertionError as exc:
        normal, extra = allow(), allow(*trouble)
        bad = [a for a in load.select() if not _allowed(a, extra if touched(a) else normal)]
        shown = [f"{a.label()} started {load.rel(a.start)} took {a.latency:.2f} s id={a.request_id} {a.error or ''}"
                 for a in bad[:8]]
        raise AssertionError(
            f"{str(exc)[:600]}\nwindow: answered after {load.rel(fault_at)}, started before {load.rel(window_end)}; "
            f"{len(bad)} answers outside what it allows: {load.counts(bad)}\n" + "\n".join(shown)
            + "\nresponder log lines of those requests:\n"
            + "\n".join(responder_lines([a.request_id for a in bad[:8] if a.request_id]))) from None


def _allowed(a: Attempt, allowed: dict[str, set[tuple[int, str | None]]]) -> bool:
    ok = allowed.get(a.kind, set())
    return a.status is not None and a.error_shape_ok and ((a.status, a.code) in ok or (a.status, None) in ok)


def first_write_after(load: OrderLoad, t: float) -> float | None:
    """When the first order or checkout started after `t` was acknowledged with a fresh 201."""
    ends = [a.end for a in load.select() if a.kind in ORDER_KINDS and a.start >= t and a.status == 201 and not a.replayed]
    return min(ends) if ends else None


def wait_first_write_after(load: OrderLoad, t: float, seconds: float) -> float | None:
    deadline = t + seconds
    while time.monotonic() < deadline + 1:
        got = first_write_after(load, t)
        if got is not None:
            return got
        time.sleep(0.1)
    return first_write_after(load, t)


def fault_answers(load: OrderLoad) -> dict[str, int]:
    """Counts of the answers that were not normal (5xx, no answer), over the whole case."""
    normal = allow()
    return load.counts([a for a in load.select() if not _allowed(a, normal)])


class Checks:
    """Runs every check of a case even when an earlier one fails (the books are checked after a
    failed answer check, and the other way round); `done()` fails with all of them. Each failure is
    also a line of the case report."""

    def __init__(self, report: CaseReport):
        self.report = report
        self.failures: list[str] = []

    @contextmanager
    def __call__(self, name: str):
        try:
            yield
        except AssertionError as exc:
            self.failures.append(f"[{name}] {exc}")
            self.report.add(f"FAILED {name}", str(exc).splitlines()[0][:400] if str(exc) else "assertion failed")

    def done(self) -> None:
        assert not self.failures, f"{len(self.failures)} check(s) failed:\n\n" + "\n\n".join(self.failures)


def report_books(report: CaseReport, load: OrderLoad, books: dict, *statuses: int) -> None:
    """The books' figures, and for each status (502, 503) how many orders and checkouts got it and
    how many of those had been committed all the same (their retry with the same key was a replay)."""
    report.add("books", {k: v for k, v in books.items() if not k.startswith("_")})
    for status in statuses:
        count, executed = executed_despite(load, books["_order_of_key"], status)
        if count:
            report.add(f"orders and checkouts answered {status}",
                       f"{count}; {len(executed)} of them had been committed (the retry with the same key got the order)")
