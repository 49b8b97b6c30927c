"""The fault suite's machinery (issue 4, "Faults under order load").

`OrderLoad`: 16 client threads placing one-unit orders through nginx on products created for the
case (plus a few cancels and reads), every request with a timeout and an Idempotency-Key; a request
that gets a 5xx or no answer is retried with the same key. Every attempt is recorded (status, error
code, replay header, timings, X-Request-Id). `DelayedOrder` holds a product's row lock on a known
responder (the test hook X-Stockroom-Test-Lock-Delay-Ms). `verify_books` runs the checks that follow
every case; `CaseReport` is what a case observed (the fixture `case_report` of
stockroom_kit.chaos_plugin writes it to $STACK_DIR/chaos-summary.txt and to the test output).
"""

from __future__ import annotations

import collections
import json
import os
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import requests

from .client import CART, CART_ITEMS, CHECKOUT, ORDERS, Api, assert_status, cancel_path, list_all_orders, order_path
from .fastcgi import FcgiConnectionClosed, FcgiResponse, fcgi_call
from .stack import (
    CONNECT_TIMEOUT,
    NGINX_READ_TIMEOUT,
    REQUEST_TIMEOUT,
    assert_check_clean,
    base_url,
    db_exec,
    hook_sleepers,
    responder_socket,
    row_locked,
    wait_for,
)

LOAD_THREADS = 16
LOCK_WAIT_TIMEOUT = int(os.environ.get("STOCKROOM_LOCK_WAIT_TIMEOUT", "1"))

# The products of a load: plenty of stock on most, one that sells out during the case (409s, and the
# last unit sold exactly once).
LOAD_STOCKS = (5000, 5000, 5000, 5000, 5000, 5000, 5000, 25)


# ---------------------------------------------------------------------------- straight to a responder


def fcgi_health(index: int, timeout: float = 3) -> int | None:
    """GET /health straight on responder `index`'s socket: the status, None when nothing answers."""
    try:
        return fcgi_call(responder_socket(index), "GET", "/health", timeout=timeout).status
    except (OSError, FcgiConnectionClosed):
        return None


class DelayedOrder(threading.Thread):
    """A one-line order sent straight to responder `index` with X-Stockroom-Test-Lock-Delay-Ms: the
    responder that holds the row lock is known for certain (nginx would pick one itself)."""

    # How long its connection must sit idle in its transaction to be taken for the hook's sleep.
    min_idle_ms = 200

    def __init__(self, index: int, token: str, product_id: int, delay_ms: int, key: str | None = None):
        super().__init__(daemon=True, name=f"delayed-order-{product_id}")
        self.index = index
        self.token = token
        self.product_id = product_id
        self.delay_ms = delay_ms
        self.key = key or "chaos-hold-" + uuid.uuid4().hex
        self.response: FcgiResponse | None = None
        self.error: BaseException | None = None
        self.sent_at: float | None = None
        self.ended_at: float | None = None
        self.connection_id: int | None = None

    def run(self) -> None:
        body = json.dumps({"items": [{"product_id": self.product_id, "quantity": 1}]}).encode()
        try:
            self.response = fcgi_call(
                responder_socket(self.index), "POST", ORDERS, body=body, content_type="application/json",
                headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": self.key,
                         "X-Stockroom-Test-Lock-Delay-Ms": str(self.delay_ms)},
                timeout=REQUEST_TIMEOUT, on_sent=lambda: setattr(self, "sent_at", time.monotonic()),
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the case
            self.error = exc
        finally:
            self.ended_at = time.monotonic()

    def wait_holding(self, seconds: float = 5, others: Iterable[int] = ()) -> float:
        """Block until this order sleeps in its hook holding the product's row lock; returns when.
        The row lock alone proves nothing while other buyers of the product come and go: the sign is
        a connection idle inside a transaction that holds row locks (not one of `others`, the
        connections of holders found before this one) while the product's row is locked."""
        known = set(others)

        def holding() -> float | None:
            new = hook_sleepers(self.min_idle_ms) - known
            if new and row_locked(self.product_id):
                self.connection_id = min(new)
                return time.monotonic()
            return None

        held = wait_for(holding, seconds, interval=0.05)
        assert held, (
            f"order on product {self.product_id} sent to fcgi-{self.index} is not sleeping with its row lock after "
            f"{seconds} s (is STOCKROOM_TEST_HOOKS=1 set for the responders? response: {self.response}, "
            f"error: {self.error!r})"
        )
        return held


class DelayedCheckout(DelayedOrder):
    """A checkout of the token's cart (issue 10) sent straight to responder `index` with
    X-Stockroom-Test-Lock-Delay-Ms: it sleeps holding its cart row and the row locks of its products
    (`product_id`: one of them, the one `wait_holding` watches). No body; an Idempotency-Key."""

    # Its sleep is long (seconds): a load transaction that a loaded machine leaves idle for 200 ms
    # must not be taken for it (seen once on a CI run: the "holder" was a live connection).
    min_idle_ms = 1000

    def __init__(self, index: int, token: str, product_id: int, delay_ms: int, key: str | None = None):
        super().__init__(index, token, product_id, delay_ms, key or "chaos-checkout-" + uuid.uuid4().hex)
        self.name = f"delayed-checkout-{product_id}"

    def run(self) -> None:
        try:
            self.response = fcgi_call(
                responder_socket(self.index), "POST", CHECKOUT,
                headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": self.key,
                         "X-Stockroom-Test-Lock-Delay-Ms": str(self.delay_ms)},
                timeout=REQUEST_TIMEOUT, on_sent=lambda: setattr(self, "sent_at", time.monotonic()),
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the case
            self.error = exc
        finally:
            self.ended_at = time.monotonic()


# ---------------------------------------------------------------------------- the load


# The kinds of attempt that place an order (acknowledged with 201 and an order id).
ORDER_KINDS = ("order", "checkout")


@dataclass
class Attempt:
    kind: str  # "order", "cancel", "read"; with checkouts: "cart" (add a line, or empty it), "checkout"
    thread: int
    start: float
    end: float = 0.0
    key: str | None = None
    product: int | None = None
    status: int | None = None  # None: no HTTP answer (timeout, connection error)
    code: str | None = None  # error.code of an error body
    error: str | None = None  # exception text when no answer
    error_shape_ok: bool = True  # a >= 400 answer is JSON in the contract's error shape
    replayed: bool = False
    retry_after: str | None = None
    order_id: int | None = None
    request_id: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start

    def label(self) -> str:
        if self.status is None:
            return f"{self.kind} no-answer"
        return f"{self.kind} {self.status}" + (f" {self.code}" if self.code else "") + (" replayed" if self.replayed else "")


class OrderLoad:
    """16 client threads through nginx. Each loop: maybe a read (GET product), maybe a cancel of one of
    its own acknowledged orders, maybe (checkout_ratio, 0 by default) a checkout: one unit added to the
    thread's cart, then POST /cart/checkout with a fresh Idempotency-Key; otherwise a one-unit order
    with a fresh Idempotency-Key on a product picked by `products_for(thread)`. An order or a checkout
    that gets a 5xx or no answer is retried with the same key (after 0.2-0.4 s) until it gets a
    definite answer or the load stops. `url`: where to send it (default: the stack's, STOCKROOM_URL)."""

    def __init__(
        self,
        tokens: list[str],
        products: list[int],
        *,
        threads: int = LOAD_THREADS,
        products_for: Callable[[int], list[int]] | None = None,
        cancel_ratio: float = 0.05,
        read_ratio: float = 0.10,
        checkout_ratio: float = 0.0,
        url: str | None = None,
    ):
        self.url = (url or base_url()).rstrip("/")
        self.tokens = tokens
        self.products = list(products)
        self.threads = threads
        self.products_for = products_for or (lambda i: self.products)
        self.cancel_ratio = cancel_ratio
        self.read_ratio = read_ratio
        self.checkout_ratio = checkout_ratio
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._run = threading.Event()
        self._run.set()
        self._parked = 0
        self._cond = threading.Condition()
        self._workers: list[threading.Thread] = []
        self.t0 = time.monotonic()

    # -- control

    def start(self) -> "OrderLoad":
        self.t0 = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, args=(i,), daemon=True, name=f"load-{i}")
            self._workers.append(t)
            t.start()
        return self

    def stop(self, join_seconds: float = REQUEST_TIMEOUT + 5) -> list[str]:
        """Stops the threads after their current request; returns the names of any still running
        (a request that hung past every timeout)."""
        self._stop.set()
        self._run.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + join_seconds
        for t in self._workers:
            t.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._workers if t.is_alive()]

    def pause(self, seconds: float = REQUEST_TIMEOUT + 2) -> float:
        """Stop starting requests and wait until no request is in flight; returns how long it took."""
        started = time.monotonic()
        self._run.clear()
        with self._cond:
            ok = self._cond.wait_for(lambda: self._parked >= self.threads, timeout=seconds)
        assert ok, f"load did not quiesce within {seconds} s ({self._parked}/{self.threads} threads idle)"
        return time.monotonic() - started

    def resume(self) -> None:
        self._run.set()

    def now(self) -> float:
        return time.monotonic()

    def rel(self, t: float | None) -> str:
        return "-" if t is None else f"{t - self.t0:.2f}s"

    # -- the threads

    def _gate(self) -> bool:
        """Park while paused; False once stopping."""
        if self._run.is_set() or self._stop.is_set():
            return not self._stop.is_set()
        with self._cond:
            self._parked += 1
            self._cond.notify_all()
        try:
            while not self._run.wait(0.05):
                if self._stop.is_set():
                    break
        finally:
            with self._cond:
                self._parked -= 1
        return not self._stop.is_set()

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def _call(self, session: requests.Session, attempt: Attempt, method: str, path: str, token: str,
              body: Any = None, headers: dict[str, str] | None = None) -> requests.Response | None:
        hdrs = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        try:
            r = session.request(method, self.url + path, data=data, headers=hdrs,
                                timeout=(CONNECT_TIMEOUT, REQUEST_TIMEOUT), allow_redirects=False)
        except requests.RequestException as exc:
            attempt.end = time.monotonic()
            attempt.error = f"{type(exc).__name__}: {exc}"[:300]
            self._record(attempt)
            return None
        attempt.end = time.monotonic()
        attempt.status = r.status_code
        attempt.request_id = r.headers.get("X-Request-Id")
        attempt.retry_after = r.headers.get("Retry-After")
        attempt.replayed = r.headers.get("Idempotent-Replayed", "").lower() == "true"
        if r.status_code >= 400:
            attempt.error_shape_ok = False
            try:
                media = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                err = json.loads(r.content.decode("utf-8"))["error"]
                attempt.code = err["code"]
                attempt.error_shape_ok = (media == "application/json" and isinstance(err["code"], str)
                                          and isinstance(err.get("message"), str))
            except Exception:  # noqa: BLE001 - recorded as a shape failure
                attempt.code = "<not the error shape>"
        self._record(attempt)
        return r

    def _loop(self, index: int) -> None:
        token = self.tokens[index % len(self.tokens)]
        session = requests.Session()
        mine: list[int] = []
        rnd = random.Random(index * 7919 + int(self.t0))
        try:
            while self._gate():
                dice = rnd.random()
                choices = self.products_for(index)
                if dice < self.read_ratio:
                    pid = rnd.choice(choices)
                    self._call(session, Attempt("read", index, time.monotonic(), product=pid), "GET",
                               f"/api/v1/products/{pid}", token)
                    continue
                if dice < self.read_ratio + self.cancel_ratio and mine:
                    oid = mine.pop(rnd.randrange(len(mine)))
                    self._call(session, Attempt("cancel", index, time.monotonic(), order_id=oid), "POST",
                               cancel_path(oid), token)
                    continue
                if dice < self.read_ratio + self.cancel_ratio + self.checkout_ratio:
                    self._checkout(session, index, token, rnd.choice(choices), rnd, mine)
                    continue
                pid = rnd.choice(choices)
                key = f"chaos-{index}-{uuid.uuid4().hex}"
                while True:
                    a = Attempt("order", index, time.monotonic(), key=key, product=pid)
                    r = self._call(session, a, "POST", ORDERS, token,
                                   body={"items": [{"product_id": pid, "quantity": 1}]},
                                   headers={"Idempotency-Key": key})
                    if r is not None and r.status_code == 201:
                        try:
                            a.order_id = int(r.json()["id"])
                        except Exception:  # noqa: BLE001 - caught by the checks (201 without an id)
                            a.order_id = None
                        if a.order_id is not None and not a.replayed:
                            mine.append(a.order_id)
                    if r is not None and r.status_code < 500:
                        break
                    if self._stop.is_set():
                        break
                    time.sleep(0.2 + rnd.random() * 0.2)
                    if not self._gate():
                        break
        finally:
            session.close()

    def _checkout(self, session: requests.Session, index: int, token: str, pid: int, rnd: random.Random,
                  mine: list[int]) -> None:
        """One unit of `pid` into the thread's cart, then its checkout with a fresh key, retried with
        that key like an order. A cart that cannot be checked out for a shortage is emptied (else every
        later checkout of the thread would fail on the same line); an add that got a 5xx or no answer
        is not followed by a checkout (the line may or may not be in the cart: a later one takes it)."""
        add = self._call(session, Attempt("cart", index, time.monotonic(), product=pid), "POST", CART_ITEMS, token,
                         body={"product_id": pid, "quantity": 1})
        if add is None or add.status_code != 200:
            if add is not None and add.status_code == 409:
                self._call(session, Attempt("cart", index, time.monotonic(), product=pid), "DELETE", CART, token)
            return
        key = f"chaos-checkout-{index}-{uuid.uuid4().hex}"
        while True:
            a = Attempt("checkout", index, time.monotonic(), key=key, product=pid)
            r = self._call(session, a, "POST", CHECKOUT, token, headers={"Idempotency-Key": key})
            if r is not None and r.status_code == 201:
                try:
                    a.order_id = int(r.json()["id"])
                except Exception:  # noqa: BLE001 - caught by the checks (201 without an id)
                    a.order_id = None
                if a.order_id is not None and not a.replayed:
                    mine.append(a.order_id)
            if r is not None and r.status_code == 409 and a.code == "insufficient_stock":
                self._call(session, Attempt("cart", index, time.monotonic(), product=pid), "DELETE", CART, token)
            if r is not None and r.status_code < 500:
                return
            if self._stop.is_set():
                return
            time.sleep(0.2 + rnd.random() * 0.2)
            if not self._gate():
                return

    def place_once(self, product_id: int, *, thread: int, token: str | None = None) -> Attempt:
        """One order through nginx on a fresh connection, recorded like the load's (no retry)."""
        session = requests.Session()
        key = f"chaos-probe-{uuid.uuid4().hex}"
        a = Attempt("order", thread, time.monotonic(), key=key, product=product_id)
        try:
            r = self._call(session, a, "POST", ORDERS, token or self.tokens[thread % len(self.tokens)],
                           body={"items": [{"product_id": product_id, "quantity": 1}]},
                           headers={"Idempotency-Key": key})
            if r is not None and r.status_code == 201:
                a.order_id = int(r.json()["id"])
        finally:
            session.close()
        return a

    # -- results

    def select(self, kind: str | None = None, *, products: Iterable[int] | None = None,
               started: tuple[float, float] | None = None, ended: tuple[float, float] | None = None) -> list[Attempt]:
        with self._lock:
            items = list(self.attempts)
        wanted = set(products) if products is not None else None
        out = []
        for a in items:
            if kind and a.kind != kind:
                continue
            if wanted is not None and a.product not in wanted:
                continue
            if started and not (started[0] <= a.start < started[1]):
                continue
            if ended and not (ended[0] <= a.end < ended[1]):
                continue
            out.append(a)
        return out

    def counts(self, attempts: list[Attempt] | None = None) -> dict[str, int]:
        attempts = self.select() if attempts is None else attempts
        return dict(sorted(collections.Counter(a.label() for a in attempts).items()))

    def acknowledged(self) -> dict[str, int]:
        """Idempotency-Key -> order id of every 201 of an order or a checkout (asserting that one key
        never gave two ids)."""
        acked: dict[str, int] = {}
        for a in self.select():
            if a.kind not in ORDER_KINDS:
                continue
            if a.status == 201:
                assert a.order_id is not None, f"201 without an order id: {a}"
                assert acked.setdefault(a.key, a.order_id) == a.order_id, (
                    f"key {a.key} acknowledged with two orders: {acked[a.key]} and {a.order_id}"
                )
        return acked

    def max_latency(self, attempts: list[Attempt] | None = None) -> float:
        attempts = self.select() if attempts is None else attempts
        return max((a.latency for a in attempts), default=0.0)


def assert_answers(load: OrderLoad, allowed: dict[str, set[tuple[int, str | None]]], attempts: list[Attempt] | None = None) -> None:
    """Every attempt got an HTTP answer within the timeouts, errors in the contract's shape, and each
    (status, error code) is one the case allows for its kind."""
    attempts = load.select() if attempts is None else attempts
    unanswered = [a for a in attempts if a.status is None]
    assert not unanswered, f"{len(unanswered)} requests got no answer, e.g. {unanswered[:3]}"
    bad_shape = [a for a in attempts if not a.error_shape_ok]
    assert not bad_shape, f"{len(bad_shape)} error answers not in the error shape, e.g. {bad_shape[:3]}"
    slow = [a for a in attempts if a.latency >= NGINX_READ_TIMEOUT]
    assert not slow, f"{len(slow)} answers took nginx's whole read timeout or more, e.g. {slow[:3]}"
    for a in attempts:
        ok = allowed.get(a.kind, set())
        assert (a.status, a.code) in ok or (a.status, None) in ok, (
            f"unexpected answer {a.label()} (allowed for {a.kind}: {sorted(ok, key=str)}): {a}; "
            f"all answers: {load.counts(attempts)}"
        )


# Answers that are fine in every case: the order was made, the product sold out, the cancel worked.
NORMAL = {
    "order": {(201, None), (409, "insufficient_stock")},
    "cancel": {(200, None)},
    "read": {(200, None)},
    # With checkouts: a line added (200) or refused for the stock (409), a cart emptied (204); a
    # checkout that finds the cart empty (its line was not added after all) is 409 cart_empty.
    "cart": {(200, None), (204, None), (409, "insufficient_stock")},
    "checkout": {(201, None), (409, "insufficient_stock"), (409, "cart_empty")},
}


def allow(*extra: tuple[str, int, str | None]) -> dict[str, set[tuple[int, str | None]]]:
    out = {k: set(v) for k, v in NORMAL.items()}
    for kind, status, code in extra:
        out.setdefault(kind, set()).add((status, code))
    return out


# ---------------------------------------------------------------------------- the checks after every case


def verify_books(admin_api: Api, initial: dict[int, int], load: OrderLoad, baseline: int,
                 extra_acked: dict[str, int] | None = None) -> dict[str, Any]:
    """The checks after every case. `initial`: product id -> stock at creation (the products under
    load); `baseline`: the highest order id before the case. Returns the figures for the report."""
    result: dict[str, Any] = {}
    # 1. stockroomctl check
    proc = assert_check_clean()
    result["stockroomctl check"] = proc.stdout.strip().splitlines()[-1]

    # 2. stock = initial - quantities of the non-cancelled orders, as the API lists them
    orders = list_all_orders(admin_api, after=baseline)
    ids = [o["id"] for o in orders]
    assert len(ids) == len(set(ids)), "an order id is listed twice"
    sold: dict[int, int] = {pid: 0 for pid in initial}
    orders_of_case = []
    for o in orders:
        lines = [line for line in o["items"] if line["product_id"] in initial]
        if not lines:
            continue
        orders_of_case.append(o)
        if o["status"] != "cancelled":
            for line in lines:
                sold[line["product_id"]] += line["quantity"]
    mismatches = []
    for pid, stock0 in initial.items():
        stock = assert_status(admin_api.get(f"/api/v1/products/{pid}"), 200)["stock"]
        if stock != stock0 - sold[pid] or stock < 0:
            mismatches.append(f"product {pid}: stock {stock}, initial {stock0} - sold {sold[pid]} = {stock0 - sold[pid]}")
    assert not mismatches, "stock does not match the orders:\n" + "\n".join(mismatches)
    cancelled = sum(1 for o in orders_of_case if o["status"] == "cancelled")
    result["stock"] = (f"{len(initial)} products match (units sold {sum(sold.values())}, "
                       f"{len(orders_of_case)} orders, {cancelled} cancelled)")

    # 3. every order acknowledged with 201 exists (GET by id as admin)
    acked = load.acknowledged()
    for key, oid in (extra_acked or {}).items():
        assert acked.setdefault(key, oid) == oid, f"key {key}: two order ids"
    listed = {o["id"]: o for o in orders_of_case}

    local = threading.local()
    clients: list[Api] = []

    def fetch(oid: int) -> tuple[int, int]:
        if not hasattr(local, "api"):
            local.api = Api(token=admin_api.token)
            clients.append(local.api)
        return oid, local.api.get(order_path(oid), timeout=(CONNECT_TIMEOUT, REQUEST_TIMEOUT)).status_code

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = dict(pool.map(fetch, sorted(set(acked.values()))))
    finally:
        for client in clients:
            client.close()
    missing = sorted(oid for oid, status in statuses.items() if status != 200)
    assert not missing, f"{len(missing)} acknowledged orders are missing (GET != 200): {missing[:20]}"
    not_listed = sorted(set(acked.values()) - set(listed))
    assert not not_listed, f"acknowledged orders not in the admin listing: {not_listed[:20]}"
    result["acknowledged"] = f"{len(set(acked.values()))} orders acknowledged with 201, all exist"

    # 4. no order exists twice: one order per Idempotency-Key, and every order of the case has its key
    rows = db_exec(f"SELECT idempotency_key, order_id FROM idempotency_keys WHERE order_id > {int(baseline)}")
    key_of: dict[int, list[str]] = collections.defaultdict(list)
    order_of_key: dict[str, int] = {}
    for line in rows.splitlines():
        key, _, oid = line.partition("\t")
        key_of[int(oid)].append(key)
        assert key not in order_of_key, f"key {key} stored twice"
        order_of_key[key] = int(oid)
    twice = {oid: keys for oid, keys in key_of.items() if len(keys) > 1}
    assert not twice, f"orders stored under two keys: {twice}"
    keyless = sorted(set(listed) - set(key_of))
    assert not keyless, f"orders of the case with no Idempotency-Key row (executed twice?): {keyless[:20]}"
    wrong = {k: (oid, order_of_key.get(k)) for k, oid in acked.items() if order_of_key.get(k) != oid}
    assert not wrong, f"acknowledged key -> order differs from the stored one: {dict(list(wrong.items())[:10])}"
    result["uniqueness"] = f"{len(listed)} orders, {len(listed)} distinct keys, one order per key"
    result["_order_of_key"] = order_of_key
    return result


def executed_despite(load: OrderLoad, order_of_key: dict[str, int], status: int) -> tuple[int, list[str]]:
    """For every key whose order got `status` (502, 503): was that request executed anyway? It was
    if a later attempt with the key was a replay (201 Idempotent-Replayed) with nothing but such
    failures before it, or if the key ends with no 201 but its order exists. Returns (number of
    answers with `status`, keys whose failed request had been executed)."""
    by_key: dict[str, list[Attempt]] = collections.defaultdict(list)
    for a in sorted((a for a in load.select() if a.kind in ORDER_KINDS), key=lambda a: a.start):
        by_key[a.key].append(a)
    count = 0
    executed = []
    for key, attempts in by_key.items():
        if not any(a.status == status for a in attempts):
            continue
        count += sum(1 for a in attempts if a.status == status)
        first_201 = next((a for a in attempts if a.status == 201), None)
        if first_201 is not None:
            earlier = [a for a in attempts if a.start < first_201.start]
            if first_201.replayed and earlier and any(a.status == status for a in earlier):
                executed.append(key)
        elif key in order_of_key:
            executed.append(key)
    return count, executed


# ---------------------------------------------------------------------------- report


class CaseReport:
    """What one case observed: lines for chaos-summary.txt and the test output."""

    def __init__(self, name: str):
        self.name = name
        self.lines: list[tuple[str, Any]] = []
        self.started = time.monotonic()

    def add(self, label: str, value: Any) -> None:
        self.lines.append((label, value))

    def text(self, outcome: str) -> str:
        out = [f"== {self.name}: {outcome} ({time.monotonic() - self.started:.1f} s)"]
        for label, value in self.lines:
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {v}" for k, v in value.items())
            out.append(f"   {label}: {value}")
        return "\n".join(out) + "\n"

