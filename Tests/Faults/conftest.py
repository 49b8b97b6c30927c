"""Fault suite (issue 4, "Faults under order load"): shared machinery.

Run through scripts/chaos-test.sh, which starts a private stack (2 responder processes, 1 worker,
STOCKROOM_TEST_HOOKS=1, STOCKROOM_LOCK_WAIT_TIMEOUT=1) and sets the same variables as the
integration harness (STOCKROOM_URL, STOCKROOM_STACK_DIR, STOCKROOM_CTL, STOCKROOM_STACK).

Every case (one file each) runs `OrderLoad`: 16 client threads placing one-unit orders through
nginx on products created for the case (plus a few cancels and reads), every request with a
timeout and an Idempotency-Key; a request that gets a 5xx or no answer is retried with the
same key. Then the case injects its fault and watches the recovery. Every attempt is recorded
(status, error code, replay header, timings, X-Request-Id). `verify_books` then runs the checks
that follow every case, and `CaseReport` writes what was observed to $STACK_DIR/chaos-summary.txt
and to the test output.

Helpers shared with the integration suite are loaded from Tests/Integration/conftest.py.
"""

from __future__ import annotations

import atexit
import collections
import importlib.util
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import requests

# ---------------------------------------------------------------------------- shared helpers

_INTEGRATION_CONFTEST = Path(__file__).resolve().parent.parent / "Integration" / "conftest.py"
_spec = importlib.util.spec_from_file_location("stockroom_integration_helpers", _INTEGRATION_CONFTEST)
it = importlib.util.module_from_spec(_spec)
sys.modules["stockroom_integration_helpers"] = it
_spec.loader.exec_module(it)

Api = it.Api
ORDERS = it.ORDERS
assert_check_clean = it.assert_check_clean
assert_error = it.assert_error
assert_order = it.assert_order
assert_product = it.assert_product
assert_status = it.assert_status
base_url = it.base_url
create_admin = it.create_admin
db_exec = it.db_exec
describe = it.describe
list_all_orders = it.list_all_orders
login_token = it.login_token
order_path = it.order_path
cancel_path = it.cancel_path
pid_alive = it.pid_alive
proc_comm = it.proc_comm
read_pid = it.read_pid
register = it.register
run_stack = it.run_stack
stack_dir = it.stack_dir
stack_env = it.stack_env
unique_name = it.unique_name

# Every HTTP request of the suite: connect bound, read bound just above nginx's 30 s
# fastcgi_read_timeout, so nginx's own 504 would come first; no request can hang longer.
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 32.0
NGINX_READ_TIMEOUT = 30.0
LOAD_THREADS = 16
RESPONDER = "stockroom-fcgi"
LOCK_WAIT_TIMEOUT = int(os.environ.get("STOCKROOM_LOCK_WAIT_TIMEOUT", "1"))

# ---------------------------------------------------------------------------- processes


def responder_pid(index: int) -> int:
    pid = read_pid(stack_dir() / f"fcgi-{index}.pid")
    assert pid is not None and proc_comm(pid) == RESPONDER, (
        f"fcgi-{index}.pid names {pid} ({proc_comm(pid) if pid else None!r}), not a live {RESPONDER}"
    )
    return pid


def responder_socket(index: int) -> str:
    return str(stack_dir() / f"fcgi-{index}.sock")


def mariadb_pid() -> int:
    pid = read_pid(stack_dir() / "mariadb.pid")
    assert pid is not None and pid_alive(pid) and proc_comm(pid) in ("mariadbd", "mysqld"), (
        f"mariadb.pid names {pid} ({proc_comm(pid) if pid else None!r})"
    )
    return pid


def wait_for(predicate: Callable[[], Any], seconds: float, interval: float = 0.05) -> Any:
    """predicate() until it returns something truthy; None after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def wait_new_responder(index: int, old: int, seconds: float = 10) -> int | None:
    def new() -> int | None:
        pid = read_pid(stack_dir() / f"fcgi-{index}.pid")
        if pid and pid != old and proc_comm(pid) == RESPONDER:
            return pid
        return None

    return wait_for(new, seconds)


# Processes this suite stopped with SIGSTOP: always continued, even when a case fails.
_stopped: set[int] = set()
_stopped_lock = threading.Lock()


def sigstop(pid: int) -> None:
    with _stopped_lock:
        _stopped.add(pid)
    os.kill(pid, signal.SIGSTOP)


def sigcont(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    with _stopped_lock:
        _stopped.discard(pid)


def continue_all_stopped() -> None:
    with _stopped_lock:
        pids = list(_stopped)
    for pid in pids:
        sigcont(pid)


atexit.register(continue_all_stopped)


@pytest.fixture(autouse=True)
def _never_leave_a_process_stopped():
    yield
    continue_all_stopped()


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_log_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------- database (root)


def db_root(sql: str, timeout: float = 15, check: bool = True) -> subprocess.CompletedProcess:
    """SQL as MariaDB's root over the stack's socket (KILL, SET GLOBAL, lock probes)."""
    sock = stack_env()["STOCKROOM_DB_SOCKET"]
    proc = subprocess.run(
        ["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-B", "-e", sql],
        text=True, capture_output=True, timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, f"mariadb (root) failed ({proc.returncode}) on {sql!r}:\n{proc.stderr}"
    return proc


def row_locked(product_id: int) -> bool:
    """Whether some transaction holds the row lock of a product: a FOR UPDATE NOWAIT probe that
    fails at once (1205) when it is held and is rolled back at once when it is not."""
    proc = db_root(
        "SET SESSION innodb_lock_wait_timeout = 1; START TRANSACTION; "
        f"SELECT id FROM stockroom.products WHERE id = {int(product_id)} FOR UPDATE NOWAIT; ROLLBACK;",
        check=False,
    )
    if proc.returncode == 0:
        return False
    if "1205" in proc.stderr or "Lock wait timeout" in proc.stderr:
        return True
    raise AssertionError(f"lock probe failed: {proc.stderr}")


def hook_sleepers() -> set[int]:
    """Connections of the application user whose transaction holds row locks while the client sends
    nothing: the test hook's sleep after SELECT ... FOR UPDATE. (Under normal load a transaction
    never sits idle for 200 ms: the responder sends its statements back to back.)"""
    out = db_root(
        "SELECT p.id FROM information_schema.innodb_trx t "
        "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
        "WHERE p.user = 'stockroom' AND p.command = 'Sleep' AND p.time_ms > 200 "
        "AND t.trx_state = 'RUNNING' AND t.trx_rows_locked > 0"
    ).stdout
    return {int(x) for x in out.split()}


def max_order_id() -> int:
    return int(db_exec("SELECT COALESCE(MAX(id), 0) FROM orders").strip() or 0)


def stockroom_connections() -> list[tuple[int, str, int]]:
    """(id, command, seconds idle) of every connection of the application user."""
    out = db_root("SELECT id, command, time FROM information_schema.processlist WHERE user = 'stockroom'").stdout
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            rows.append((int(parts[0]), parts[1], int(parts[2])))
    return rows


# ---------------------------------------------------------------------------- FastCGI, straight to a responder

_FCGI_BEGIN_REQUEST, _FCGI_END_REQUEST, _FCGI_PARAMS, _FCGI_STDIN, _FCGI_STDOUT, _FCGI_STDERR = 1, 3, 4, 5, 6, 7


class FcgiConnectionClosed(Exception):
    """The responder closed the connection before FCGI_END_REQUEST (it died)."""


@dataclass
class FcgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"), parse_float=Decimal)


def _fcgi_record(kind: int, content: bytes, request_id: int = 1) -> bytes:
    out = b""
    chunks = [content[i:i + 65535] for i in range(0, len(content), 65535)] or [b""]
    for chunk in chunks:
        pad = (-len(chunk)) % 8
        out += struct.pack(">BBHHBB", 1, kind, request_id, len(chunk), pad, 0) + chunk + b"\0" * pad
    return out


def _fcgi_length(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise FcgiConnectionClosed(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def fcgi_request(
    socket_path: str,
    method: str,
    uri: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    content_type: str | None = None,
    timeout: float = REQUEST_TIMEOUT,
    on_sent: Callable[[], None] | None = None,
) -> FcgiResponse:
    """One request on a fresh connection to a responder's unix socket, the way nginx sends it."""
    params = {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "DOCUMENT_URI": uri.split("?")[0],
        "SCRIPT_NAME": uri.split("?")[0], "QUERY_STRING": uri.partition("?")[2],
        "CONTENT_TYPE": content_type or "", "CONTENT_LENGTH": str(len(body)) if body else "",
        "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_NAME": "localhost", "HTTP_HOST": "localhost", "HTTP_PROXY": "",
        "REQUEST_ID": "chaos-" + uuid.uuid4().hex[:16],
    }
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    pairs = b"".join(
        _fcgi_length(len(k.encode())) + _fcgi_length(len(v.encode())) + k.encode() + v.encode()
        for k, v in params.items()
    )
    message = (
        _fcgi_record(_FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
        + _fcgi_record(_FCGI_PARAMS, pairs) + _fcgi_record(_FCGI_PARAMS, b"")
        + (_fcgi_record(_FCGI_STDIN, body) if body else b"") + _fcgi_record(_FCGI_STDIN, b"")
    )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(message)
        if on_sent:
            on_sent()
        stdout = b""
        while True:
            version, kind, _rid, length, pad, _ = struct.unpack(">BBHHBB", _recv_exact(sock, 8))
            content = _recv_exact(sock, length + pad)[:length]
            if kind == _FCGI_STDOUT:
                stdout += content
            elif kind == _FCGI_END_REQUEST:
                break
    finally:
        sock.close()
    head, sep, payload = stdout.partition(b"\r\n\r\n")
    if not sep:
        head, _, payload = stdout.partition(b"\n\n")
    hdrs: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    status = int(hdrs.get("status", "200").split()[0])
    return FcgiResponse(status, hdrs, payload)


def fcgi_health(index: int, timeout: float = 3) -> int | None:
    """GET /health straight on responder `index`'s socket: the status, None when nothing answers."""
    try:
        return fcgi_request(responder_socket(index), "GET", "/health", timeout=timeout).status
    except (OSError, FcgiConnectionClosed):
        return None


class DelayedOrder(threading.Thread):
    """A one-line order sent straight to responder `index` with X-Stockroom-Test-Lock-Delay-Ms: the
    responder that holds the row lock is known for certain (nginx would pick one itself)."""

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
            self.response = fcgi_request(
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
            new = hook_sleepers() - known
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


# ---------------------------------------------------------------------------- nginx access log


_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) .* ua="(?P<ua>[^"]*)" id=(?P<id>\S+)')


def upstreams_by_request_id() -> dict[str, tuple[str, int]]:
    """request id -> (last upstream nginx used, e.g. "fcgi-2", status), from nginx's access log."""
    out: dict[str, tuple[str, int]] = {}
    try:
        text = (stack_dir() / "nginx" / "access.log").read_text(errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        m = _ACCESS.search(line)
        if not m:
            continue
        ua = m.group("ua").split(",")[-1].strip()  # "a, b" when nginx moved on to a second upstream
        name = re.search(r"(fcgi-\d+)\.sock", ua)
        out[m.group("id")] = (name.group(1) if name else ua, int(m.group("status")))
    return out


# ---------------------------------------------------------------------------- the load


@dataclass
class Attempt:
    kind: str  # "order", "cancel", "read"
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
    its own acknowledged orders, otherwise a one-unit order with a fresh Idempotency-Key on a product
    picked by `products_for(thread)`. An order that gets a 5xx or no answer is retried with the same
    key (after 0.2-0.4 s) until it gets a definite answer or the load stops."""

    def __init__(
        self,
        tokens: list[str],
        products: list[int],
        *,
        threads: int = LOAD_THREADS,
        products_for: Callable[[int], list[int]] | None = None,
        cancel_ratio: float = 0.05,
        read_ratio: float = 0.10,
    ):
        self.url = base_url()
        self.tokens = tokens
        self.products = list(products)
        self.threads = threads
        self.products_for = products_for or (lambda i: self.products)
        self.cancel_ratio = cancel_ratio
        self.read_ratio = read_ratio
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
        """Idempotency-Key -> order id of every 201 (asserting that one key never gave two ids)."""
        acked: dict[str, int] = {}
        for a in self.select("order"):
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
    for a in sorted(load.select("order"), key=lambda a: a.start):
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def case_report(request):
    report = CaseReport(request.node.name)
    yield report
    rep = getattr(request.node, "rep_call", None)
    if rep is None:
        outcome = "ERROR (setup)"
    elif rep.passed:
        outcome = "PASSED"
    else:
        msg = str(rep.longrepr.reprcrash.message) if hasattr(rep.longrepr, "reprcrash") and rep.longrepr.reprcrash else "failed"
        outcome = "FAILED: " + msg.splitlines()[0][:300] if msg else "FAILED"
    text = report.text(outcome)
    with open(stack_dir() / "chaos-summary.txt", "a") as f:
        f.write(text)
    print("\n" + text, flush=True)


# ---------------------------------------------------------------------------- users, products


@pytest.fixture(scope="session")
def admin_token() -> str:
    username = unique_name("chaosadm")
    create_admin(username)
    client = Api()
    token = login_token(client, username)
    client.close()
    return token


@pytest.fixture
def admin_api(admin_token: str):
    client = Api(token=admin_token)
    yield client
    client.close()


@pytest.fixture(scope="session")
def customer_tokens() -> list[str]:
    """16 customers, one per load thread (Idempotency-Keys are per user)."""

    def one(_: int) -> str:
        client = Api()
        try:
            name = unique_name("chaos")
            assert_status(register(client, name), 201)
            return login_token(client, name)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(LOAD_THREADS)))


@pytest.fixture
def new_customer_token() -> Callable[[], str]:
    def factory() -> str:
        client = Api()
        try:
            name = unique_name("hold")
            assert_status(register(client, name), 201)
            return login_token(client, name)
        finally:
            client.close()

    return factory


@pytest.fixture
def make_products(admin_api: Api) -> Callable[..., dict[int, int]]:
    """Factory: products with the given stocks; returns product id -> initial stock."""

    def factory(*stocks: int) -> dict[int, int]:
        out = {}
        for stock in stocks:
            r = admin_api.post("/api/v1/products", json={"name": unique_name("chaosprod"), "price": Decimal("2.50"), "stock": stock})
            p = assert_product(assert_status(r, 201))
            out[p["id"]] = stock
        return out

    return factory


# The products of a load: plenty of stock on most, one that sells out during the case (409s, and the
# last unit sold exactly once).
LOAD_STOCKS = (5000, 5000, 5000, 5000, 5000, 5000, 5000, 25)


@pytest.fixture(scope="session", autouse=True)
def _stack_is_healthy():
    """Every case starts from a healthy stack with both responders answering."""
    client = Api()
    try:
        assert wait_for(lambda: client.get("/health", timeout=5).status_code == 200, 30, 0.2), "the stack is not healthy"
    finally:
        client.close()


def nginx_workers(master: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == master and proc_comm(int(d.name)) == "nginx":
            out.add(int(d.name))
    return out


def reload_nginx() -> None:
    """SIGHUP to nginx: new workers, which start with every upstream in rotation. (After an upstream
    error nginx leaves that responder out for fail_timeout = 10 s, then sends it a single trial
    request: without this, what a case sees would depend on how long ago the previous one
    crashed a responder.)"""
    master = read_pid(stack_dir() / "nginx.pid")
    assert master and proc_comm(master) == "nginx", f"nginx.pid names {master}"
    old = nginx_workers(master)
    os.kill(master, signal.SIGHUP)
    assert wait_for(lambda: (nginx_workers(master) - old) and not (nginx_workers(master) & old), 15, 0.05), (
        f"nginx workers {old} were not replaced within 15 s of SIGHUP"
    )


@pytest.fixture(autouse=True)
def _responders_up():
    """Before each case: both responders answer /health on their own sockets (a restart in the
    previous case is complete), and nginx has both in rotation again."""
    for index in (1, 2):
        assert wait_for(lambda: fcgi_health(index) == 200, 20, 0.1), f"fcgi-{index} does not answer /health"
    reload_nginx()
    yield
