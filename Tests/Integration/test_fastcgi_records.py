"""Issue 4: crafted FastCGI records sent straight to a responder socket, not through nginx.

Each case talks to $STOCKROOM_STACK_DIR/fcgi-1.sock with the test kit's FastCGI client
(stockroom_kit.fastcgi) while two threads keep sending ordinary requests through nginx. Afterwards the responder process is
either the same live process or, if the input killed it, a new stockroom-fcgi started by the
supervisor within 10 s; a direct request on the socket and requests through nginx succeed; and the
background requests saw nothing worse than a 502 (only when the process died: requests in flight on
it are lost with it). What happened (survived / died with which status, restart time, background
codes) is printed in the "observations" section of the run.

Also: the sockets are 0660 unix sockets of the service user, and stockroom-fcgi listens on no TCP port.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from stockroom_kit.fastcgi import (
    FCGI_ABORT_REQUEST,
    FCGI_BEGIN_REQUEST,
    FCGI_DATA,
    FCGI_END_REQUEST,
    FCGI_GET_VALUES,
    FCGI_GET_VALUES_RESULT,
    FCGI_PARAMS,
    FCGI_STDIN,
    FCGI_STDOUT,
    FCGI_UNKNOWN_TYPE,
    fcgi_begin,
    fcgi_decode_pairs,
    fcgi_pair,
    fcgi_pairs,
    fcgi_params,
    fcgi_read_record,
    fcgi_read_response,
    fcgi_record,
    fcgi_request,
    fcgi_stream,
)
from stockroom_kit.plugin import observe
from stockroom_kit.stack import (
    base_url,
    exit_status,
    log_size,
    pid_alive,
    proc_comm,
    read_pid,
    stack_dir,
    stack_env,
    supervisord_log,
)

PROCESS_NAME = "stockroom-fcgi"
RESTART_WITHIN = 10.0  # seconds
ANSWER_WITHIN = 10.0  # a crafted request is answered or its connection closed within this
LOGIN = "/api/v1/auth/login"
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the responder under test


class Responder:
    def __init__(self, index: int = 1):
        d = stack_dir()
        self.index = index
        self.sock_path = d / f"fcgi-{index}.sock"
        self.pid_file = d / f"fcgi-{index}.pid"
        self.log = d / f"fcgi-{index}.log"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid) and proc_comm(pid) == PROCESS_NAME:
            return pid
        return None

    def connect(self, timeout: float = ANSWER_WITHIN) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(self.sock_path))
        return s

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with self.log.open("rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = RESTART_WITHIN) -> int:
        """The pid of a live stockroom-fcgi that answers GET /health/live on the socket."""
        deadline = time.monotonic() + timeout
        last_error: object = None
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid is not None and self.sock_path.exists():
                try:
                    r = self.request(fcgi_params("GET", "/health/live"), timeout=2)
                    if r.status == 200:
                        return pid
                    last_error = r
                except OSError as exc:
                    last_error = exc
            time.sleep(0.1)
        pytest.fail(f"responder {self.index} not ready within {timeout} s (pid file {read_pid(self.pid_file)}, "
                    f"last: {last_error!r})")

    def request(self, params, stdin: bytes = b"", timeout: float = ANSWER_WITHIN):
        with self.connect(timeout) as s:
            s.sendall(fcgi_request(params, stdin))
            return fcgi_read_response(s)


class BackgroundTraffic:
    """Ordinary requests through nginx on two threads; collects status codes (or exception names)."""

    PATHS = ("/health/live", "/api/v1/products?limit=1")

    def __init__(self) -> None:
        self.url = base_url()
        self.stop = threading.Event()
        self.results: Counter = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(p,), daemon=True) for p in self.PATHS]

    def _run(self, path: str) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            try:
                outcome: object = session.get(self.url + path, timeout=15).status_code
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            with self.lock:
                self.results[outcome] += 1
            time.sleep(0.01)
        session.close()

    def __enter__(self) -> "BackgroundTraffic":
        for t in self.threads:
            t.start()
        return self

    def finish(self) -> Counter:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=20)
        return self.results

    def __exit__(self, *exc) -> None:
        self.finish()


class Guard:
    """Snapshot before a crafted case; `settle` checks the aftermath and records what happened."""

    def __init__(self, responder: Responder):
        self.responder = responder
        self.pid = responder.wait_ready()
        self.log_offset = responder.log_size()
        self.exits_offset = log_size(supervisord_log())
        self.traffic = BackgroundTraffic().__enter__()
        self.sent_at = time.monotonic()

    def mark_sent(self) -> None:
        self.sent_at = time.monotonic()

    def settle(self, case: str) -> str:
        r = self.responder
        deadline = self.sent_at + RESTART_WITHIN
        # A crash may take a moment to show (the runtime writes a backtrace before the process exits).
        time.sleep(max(0.0, self.sent_at + 0.5 - time.monotonic()))
        # The same process or a new one (pid file rewritten by its start under supervisord) answers on the socket.
        try:
            ready_pid = r.wait_ready(max(1.0, deadline - time.monotonic()))
        except pytest.fail.Exception:
            pytest.fail(f"{case}: responder {r.index} (pid {self.pid}) not serving again within {RESTART_WITHIN} s; "
                        f"pid file says {read_pid(r.pid_file)}\n{r.log_since(self.log_offset)[-3000:]}")
        recovery = time.monotonic() - self.sent_at
        died = ready_pid != self.pid
        if died:
            assert not pid_alive(self.pid), f"{case}: pid file names {ready_pid} but {self.pid} still runs"
        # Requests through nginx keep succeeding.
        with requests.Session() as session:
            for path in ("/health", "/health/live", "/api/v1/products?limit=1"):
                for _ in range(3):
                    resp = session.get(base_url() + path, timeout=15)
                    assert resp.status_code == 200, f"{case}: GET {path} through nginx -> {resp.status_code}"
        # A late death (after the checks above) counts as a death, and must be followed by a restart too.
        if read_pid(r.pid_file) != ready_pid or not pid_alive(ready_pid):
            ready_pid = r.wait_ready(RESTART_WITHIN)
            died = True
            recovery = time.monotonic() - self.sent_at
        codes = self.traffic.finish()
        allowed = {200, 502} if died else {200}
        assert set(codes) <= allowed, f"{case}: background requests through nginx saw {dict(codes)}"
        if died:
            log = r.log_since(self.log_offset)
            status = exit_status(f"responder-{r.index}", self.exits_offset)
            cause = re.findall(r"^(stockroom-fcgi: .*(?:Assertion|Fatal|fault).*)$", log, re.M)
            outcome = (f"DIED (exit status {status or '?'}{'; ' + cause[0] if cause else ''}), "
                       f"pid {self.pid} -> {ready_pid}, serving again after {recovery:.1f} s")
        else:
            outcome = f"survived (pid {self.pid})"
        OUTCOMES.append((case, died, f"{outcome}; background requests through nginx: {dict(codes)}"))
        return "died" if died else "survived"


OUTCOMES: list[tuple[str, bool, str]] = []


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    survived = [case for case, died, _ in OUTCOMES if not died]
    background = Counter()
    for _, _, text in OUTCOMES:
        for code, n in re.findall(r"(\w+): (\d+)", text.rsplit("nginx: ", 1)[-1]):
            background[code] += int(n)
    observe(f"fastcgi: {len(survived)} of {len(OUTCOMES)} crafted cases left responder 1 running (same pid); "
            f"background requests through nginx during all cases: {dict(background)}")
    for case, died, text in OUTCOMES:
        if died:
            observe(f"fastcgi {case}: {text}")
    if NON_NUMERIC:
        observe("fastcgi (g) CONTENT_LENGTH not a plain number: " + ", ".join(NON_NUMERIC))


@pytest.fixture
def responder() -> Responder:
    return Responder(1)


@pytest.fixture
def guard(responder):
    g = Guard(responder)
    yield g
    g.traffic.finish()


def exchange(responder: Responder, data: bytes, *, request_id: int = 1, half_close: bool = True,
             pause: float = 0.0):
    """Send raw bytes, optionally end our side (EOF for the responder), and read what comes back
    until END_REQUEST or close. Never hangs: the socket has a timeout, which fails the test."""
    with responder.connect() as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the responder gave up on us early: fine, what matters is what it does next
        if pause:
            time.sleep(pause)
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        try:
            return fcgi_read_response(s, request_id)
        except socket.timeout:
            pytest.fail(f"no answer and no close within {ANSWER_WITHIN} s")


def assert_sane_if_answered(resp, case: str) -> None:
    """A crafted request may be refused by closing the connection; an answer must be a well-formed
    CGI response that is not a server error."""
    if resp.stdout:
        assert resp.status is not None and resp.status < 500, f"{case}: {resp!r}"
        assert resp.headers.get("content-type", "").startswith("application/json"), f"{case}: {resp!r}"


def login_params(content_length, content_type: str = "application/json"):
    return fcgi_params("POST", LOGIN, content_type=content_type, content_length=content_length)


# ---------------------------------------------------------------- (a) the client itself


def test_client_sanity_get_health_live(responder, guard):
    resp = responder.request(fcgi_params("GET", "/health/live"))
    assert resp.ended and resp.protocol_status == 0 and resp.app_status == 0, resp
    assert resp.status == 200 and resp.json() == {"status": "alive"}, resp
    assert resp.headers["content-type"].startswith("application/json")
    assert int(resp.headers["content-length"]) == len(resp.body)
    # STDOUT, its empty closing record, END_REQUEST
    assert [r.type for r in resp.records][-1] == FCGI_END_REQUEST
    assert resp.records[-2].type == FCGI_STDOUT and resp.records[-2].content == b""
    guard.mark_sent()
    guard.settle("(a) GET /health/live")


def test_client_sanity_keep_conn_and_management_records(responder, guard):
    with responder.connect() as s:
        # Two requests on one kept connection, the second with a body, ids other than 1.
        s.sendall(fcgi_request(fcgi_params("GET", "/health"), request_id=7, keep_conn=True))
        first = fcgi_read_response(s, 7)
        assert first.status == 200 and first.json() == {"status": "healthy", "database": "up"}, first
        body = b'{"username": "nobody_here_x", "password": "wrong-password-1"}'
        s.sendall(fcgi_request(login_params(len(body)), body, request_id=300, keep_conn=True))
        second = fcgi_read_response(s, 300)
        assert second.status == 401 and second.json()["error"]["code"] == "invalid_credentials", second
        # FCGI_GET_VALUES (management record, id 0) is answered along with the next request.
        s.sendall(fcgi_record(FCGI_GET_VALUES, 0, fcgi_pairs([("FCGI_MPXS_CONNS", ""), ("FCGI_MAX_CONNS", "")]))
                  + fcgi_request(fcgi_params("GET", "/health/live"), request_id=2))
        third = fcgi_read_response(s, 2)
        assert third.status == 200, third
        results = [r for r in third.records if r.type == FCGI_GET_VALUES_RESULT]
        assert results and dict(fcgi_decode_pairs(results[0].content)).get(b"FCGI_MPXS_CONNS") == b"0", third
    guard.mark_sent()
    guard.settle("(a) keep-conn, GET_VALUES")


# ---------------------------------------------------------------- (b) oversized name/value lengths

BIG = 0x7FFFFFFF

# (name, forged name length, value, forged value length): the pair's lengths claim far more than follows.
OVERSIZED = {
    # CVE-2025-23016: nameLen + valueLen + 2 wraps to 0 in int arithmetic -> malloc(0), then a heap overflow.
    "name and value 0x7fffffff (CVE-2025-23016)": (b"A" * 16, BIG, b"", BIG),
    "name 0x7fffffff": (b"A" * 16, BIG, b"x", 1),
    "value 0x7fffffff": (b"HTTP_X", None, b"x", BIG),
    # The sum passes INT_MAX without wrapping to a small number: a negative allocation size.
    "name 0x7ffffff0 + value 0x0f (sum past INT_MAX)": (b"A", 0x7FFFFFF0, b"", 0x0F),
    "name and value 0x40000000 (sum past INT_MAX)": (b"A", 0x40000000, b"", 0x40000000),
    "name 1 GiB": (b"A", 1 << 30, b"", 1),
}


@pytest.mark.parametrize("case", list(OVERSIZED))
def test_oversized_param_lengths(responder, guard, case):
    name, name_len, value, value_len = OVERSIZED[case]
    # What a heap overflow would write: far more than a malloc(0) chunk, over several records.
    pair = fcgi_pair(name, value, name_len, value_len) + b"B" * 150_000
    data = (fcgi_begin(1) + fcgi_record(FCGI_PARAMS, 1, fcgi_pairs(fcgi_params("GET", "/health/live")))
            + fcgi_stream(FCGI_PARAMS, 1, pair, terminate=False))
    guard.mark_sent()
    resp = exchange(responder, data, pause=0.2)
    assert_sane_if_answered(resp, case)
    guard.settle(f"(b) {case}")


# ---------------------------------------------------------------- (c) truncated records


def _truncations():
    full = fcgi_request(login_params(100), b"x" * 100)
    begin_params = fcgi_begin(1) + fcgi_stream(FCGI_PARAMS, 1, fcgi_pairs(login_params(100)))
    return {
        "half a header": full[:4],
        "BEGIN_REQUEST only": full[:16],
        "BEGIN_REQUEST cut in its body": full[:12],
        "PARAMS record cut in its content": full[:16 + 8 + 20],
        "PARAMS record header claims 65535, 10 bytes sent": fcgi_begin(1) + fcgi_record(
            FCGI_PARAMS, 1, b"\x0e\x03REQUEST_METHOD", declared_length=0xFFFF, padding=0)[:18],
        "pair length cut (4-byte form, 2 bytes sent)": fcgi_begin(1) + fcgi_record(FCGI_PARAMS, 1, b"\x80\x00", padding=0),
        "params without their closing record": begin_params[:-8],
        "STDIN record cut (CONTENT_LENGTH 100, 11 bytes)": begin_params + fcgi_record(
            FCGI_STDIN, 1, b'{"username"', declared_length=100, padding=0),
        "padding cut": begin_params + fcgi_record(FCGI_STDIN, 1, b"x" * 100, padding=255)[:8 + 100 + 3],
    }


TRUNCATIONS = _truncations()


@pytest.mark.parametrize("case", list(TRUNCATIONS))
@pytest.mark.parametrize("close", ["half-close", "full close"])
def test_truncated_records_then_close(responder, guard, case, close):
    guard.mark_sent()
    if close == "half-close":
        # EOF for the responder, while we still read what it answers.
        resp = exchange(responder, TRUNCATIONS[case])
        assert_sane_if_answered(resp, case)
        if resp.stdout and "STDIN" in case:
            assert resp.status == 400 and resp.json()["error"]["code"] == "incomplete_body", resp
    else:
        # Gone before the answer: the responder's write fails (EPIPE), which must not kill it.
        s = responder.connect()
        s.sendall(TRUNCATIONS[case])
        time.sleep(0.05)
        s.close()
    guard.settle(f"(c) {case}, {close}")


def test_complete_request_then_close_before_reading_the_answer(responder, guard):
    """The whole request, then the client vanishes: the response write hits a closed socket (SIGPIPE)."""
    guard.mark_sent()
    for _ in range(20):
        s = responder.connect()
        s.sendall(fcgi_request(fcgi_params("GET", "/api/v1/products?limit=100")))
        s.close()
    guard.settle("(c) 20 complete requests, closed before the answer")


# Each accepted connection gets a receive timeout (STOCKROOM_IDLE_TIMEOUT, 3 s): a peer that sends
# half a request and stops holds a thread for at most that long, so a fresh request is served once
# the held threads time out, well within 5 s.
def test_half_sent_requests_held_open_do_not_starve_the_responder(responder):
    threads = int(stack_env().get("STOCKROOM_THREADS", "32"))
    pid = responder.wait_ready()
    partial = fcgi_begin(1) + fcgi_record(FCGI_PARAMS, 1, fcgi_pairs(fcgi_params("GET", "/health/live")))
    held = []
    try:
        for _ in range(threads + 8):
            s = responder.connect()
            s.sendall(partial)
            held.append(s)
        time.sleep(0.5)
        started = time.monotonic()
        try:
            resp = responder.request(fcgi_params("GET", "/health/live"), timeout=5)
            answered = resp.status
        except socket.timeout:
            answered = None
        waited = time.monotonic() - started
        observe(f"fastcgi (c) {len(held)} half-sent requests held open on fcgi-1 ({threads} threads): a fresh "
                f"request {'was answered ' + str(answered) if answered else 'got no answer'} after {waited:.1f} s")
        assert answered == 200, f"a fresh request got no answer within 5 s while {len(held)} half-sent requests are held"
    finally:
        for s in held:
            s.close()
        assert responder.wait_ready() == pid


# ---------------------------------------------------------------- (d) unknown record types


def test_unknown_management_record_type_is_answered_with_unknown_type(responder, guard):
    with responder.connect() as s:
        s.sendall(fcgi_record(99, 0))
        reply = fcgi_read_record(s)
        assert reply is not None and reply.type == FCGI_UNKNOWN_TYPE and reply.request_id == 0, reply
        assert reply.content[0] == 99, reply
        # the connection still carries a request
        s.sendall(fcgi_request(fcgi_params("GET", "/health/live")))
        resp = fcgi_read_response(s)
        assert resp.status == 200, resp
    guard.mark_sent()
    guard.settle("(d) type 99 management record")


def _unknown_records():
    b = fcgi_begin(1)
    params = fcgi_pairs(fcgi_params("GET", "/health/live"))
    p = fcgi_stream(FCGI_PARAMS, 1, params)
    s = fcgi_stream(FCGI_STDIN, 1, b"")
    whole = b + p + s
    # Each case ends with what completes a GET /health/live on the same connection: the responder
    # either answers it or closes the connection.
    return {
        # Answered with FCGI_UNKNOWN_TYPE, the record's content skipped, then the request served
        # (libfcgi 2.4.2 read that content as the next header and closed the connection).
        "type 99 management record with content": fcgi_record(99, 0, b"\x00" * 8) + whole,
        "type 255 management record with padding": fcgi_record(255, 0, b"zz", padding=6) + whole,
        "type 99 with the request id, before PARAMS": b + fcgi_record(99, 1, b"z" * 300, padding=255) + p + s,
        "type 99 with the request id, inside PARAMS": b + fcgi_record(FCGI_PARAMS, 1, params)
        + fcgi_record(99, 1, b"abcdefgh") + fcgi_record(FCGI_PARAMS, 1) + s,
        "type 99 with the request id, inside STDIN": b + p + fcgi_record(99, 1, b"abcdefgh") + s,
        "type 99 with another request id": b + fcgi_record(99, 42, b"abc") + p + s,
        "END_REQUEST sent to the responder": b + fcgi_record(FCGI_END_REQUEST, 1, b"\x00" * 8) + p + s,
        "STDOUT sent to the responder": b + fcgi_record(FCGI_STDOUT, 1, b"Status: 200\r\n\r\n") + p + s,
        "DATA stream": b + p + fcgi_stream(FCGI_DATA, 1, b"hello") + s,
        "ABORT_REQUEST": b + p + fcgi_record(FCGI_ABORT_REQUEST, 1) + s,
        "second BEGIN_REQUEST (multiplexing)": b + p + fcgi_begin(2) + s,
        "unknown role 99": fcgi_record(FCGI_BEGIN_REQUEST, 1, (99).to_bytes(2, "big") + b"\x00" * 6) + p + s,
        "protocol version 2": fcgi_record(FCGI_BEGIN_REQUEST, 1, (1).to_bytes(2, "big") + b"\x00" * 6, version=2)
        + p + s,
        "record of 8 zero bytes": b"\x00" * 8 + whole,
        "HTTP request on the FastCGI socket": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + whole,
    }


UNKNOWN = _unknown_records()


@pytest.mark.parametrize("case", list(UNKNOWN))
def test_unknown_or_unexpected_records(responder, guard, case):
    guard.mark_sent()
    resp = exchange(responder, UNKNOWN[case])
    assert_sane_if_answered(resp, case)
    for record in resp.records:
        assert record.type in (FCGI_STDOUT, FCGI_END_REQUEST, FCGI_UNKNOWN_TYPE), f"{case}: {resp!r}"
    if case == "second BEGIN_REQUEST (multiplexing)":
        refused = [r for r in resp.records if r.type == FCGI_END_REQUEST and r.request_id == 2]
        assert refused and refused[0].content[4] == 1, f"FCGI_CANT_MPX_CONN expected for id 2: {resp!r}"
    answered = f"answered {resp.status}" if resp.stdout else "connection closed"
    guard.settle(f"(d) {case} ({answered})")


# ---------------------------------------------------------------- (e) body longer than CONTENT_LENGTH


def test_body_longer_than_content_length_only_content_length_is_read(responder, guard):
    login_body = b'{"username": "alice_x", "password": "correct-horse-9"}'.ljust(100)
    with responder.connect() as s:
        # CONTENT_LENGTH 10 of a 100-byte body: the 10 bytes are not JSON.
        s.sendall(fcgi_request(login_params(10), login_body, keep_conn=True))
        first = fcgi_read_response(s)
        assert first.status == 400 and first.json()["error"]["code"] == "invalid_json", first
        # The first 10 bytes are a JSON object on their own: the rest was not read into the body.
        s.sendall(fcgi_request(login_params(10), b'{"x":1}   ' + login_body[:90], request_id=2, keep_conn=True))
        second = fcgi_read_response(s, 2)
        err = second.json()["error"]
        assert second.status == 422 and err["code"] == "validation_failed" and err["field"] == "x", second
        # The extra bytes were drained: the kept connection carries the next request.
        s.sendall(fcgi_request(fcgi_params("GET", "/health/live"), request_id=3, keep_conn=True))
        third = fcgi_read_response(s, 3)
        assert third.status == 200 and third.json() == {"status": "alive"}, third
        # Megabytes past CONTENT_LENGTH are drained too.
        s.sendall(fcgi_request(login_params(10), b'{"x":1}   ' + b"y" * (2 << 20), request_id=4, keep_conn=True))
        fourth = fcgi_read_response(s, 4)
        assert fourth.status == 422 and fourth.json()["error"]["field"] == "x", fourth
        s.sendall(fcgi_request(fcgi_params("GET", "/health/live"), request_id=5))
        assert fcgi_read_response(s, 5).status == 200
    guard.mark_sent()
    guard.settle("(e) body longer than CONTENT_LENGTH")


# ---------------------------------------------------------------- (f) CONTENT_LENGTH far over the limit


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("declared", [65537, 10 * 1024 * 1024, 256 * 1024 * 1024, 2**31 - 1, 2**63 - 1])
def test_huge_content_length_is_413_without_allocating(responder, guard, declared):
    pid = guard.pid
    peak_before = _peak_rss_kib(pid)
    guard.mark_sent()
    resp = responder.request(login_params(declared), b'{"username": "a", "password": "b"}')
    assert resp.status == 413 and resp.json()["error"]["code"] == "payload_too_large", resp
    grown = _peak_rss_kib(pid) - peak_before
    assert grown < 64 * 1024, f"peak RSS grew by {grown} KiB after CONTENT_LENGTH {declared}"
    guard.settle(f"(f) CONTENT_LENGTH {declared}")


def test_huge_content_length_with_a_large_actual_body_is_drained(responder, guard):
    """10 MB declared, 3 MB actually sent over many records: 413, then the connection is reusable."""
    with responder.connect() as s:
        s.sendall(fcgi_request(login_params(10 * 1024 * 1024), b"z" * (3 << 20), keep_conn=True))
        resp = fcgi_read_response(s)
        assert resp.status == 413 and resp.json()["error"]["code"] == "payload_too_large", resp
        s.sendall(fcgi_request(fcgi_params("GET", "/health/live"), request_id=2))
        assert fcgi_read_response(s, 2).status == 200
    guard.mark_sent()
    guard.settle("(f) 10 MB declared, 3 MB sent")


# ---------------------------------------------------------------- (g) CONTENT_LENGTH negative or not a number


@pytest.mark.parametrize("declared", ["-1", "-100", "-9223372036854775808"])
def test_negative_content_length_is_413(responder, guard, declared):
    guard.mark_sent()
    resp = responder.request(login_params(declared), b'{"username": "abc", "password": "abcdefghij"}')
    assert resp.status == 413 and resp.json()["error"]["code"] == "payload_too_large", resp
    guard.settle(f"(g) CONTENT_LENGTH {declared}")


@pytest.mark.parametrize(
    "declared", ["abc", "", " 10", "10 ", "1e3", "0x10", "10abc", "+10", "\u0663", "18446744073709551616",
                 "9" * 400])
def test_non_numeric_content_length_is_a_client_error(responder, guard, declared):
    body = b'{"username": "abc_def", "password": "abcdefghij"}'
    guard.mark_sent()
    resp = responder.request(login_params(declared), body)
    assert resp.ended and resp.status is not None and 400 <= resp.status < 500, resp
    assert resp.json()["error"]["code"] in {"invalid_json", "incomplete_body", "payload_too_large",
                                            "invalid_credentials", "validation_failed"}, resp
    guard.settle(f"(g) CONTENT_LENGTH {declared!r}")
    NON_NUMERIC.append(f"{declared[:12]!r}: {resp.status} {resp.json()['error']['code']}")


NON_NUMERIC: list[str] = []



# ---------------------------------------------------------------- the socket itself


def _fcgi_pids() -> dict[int, int]:
    d = stack_dir()
    pids = {}
    for pid_file in sorted(d.glob("fcgi-*.pid")):
        index = int(pid_file.stem.split("-")[1])
        pid = Responder(index).wait_ready()
        pids[index] = pid
    assert pids, f"no fcgi-N.pid in {d}"
    return pids


def _ids(pid: int) -> tuple[int, int]:
    """Effective uid and gid of a process."""
    uid = gid = None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            uid = int(line.split()[2])
        elif line.startswith("Gid:"):
            gid = int(line.split()[2])
    assert uid is not None and gid is not None
    return uid, gid


def test_socket_is_0660_owned_by_the_service_user():
    env = stack_env()
    for index, pid in _fcgi_pids().items():
        path = Responder(index).sock_path
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode), f"{path} is not a socket"
        assert stat.S_IMODE(st.st_mode) == 0o660, f"{path} has mode {oct(stat.S_IMODE(st.st_mode))}"
        uid, gid = _ids(pid)
        assert st.st_uid == uid, f"{path} owned by uid {st.st_uid}, responder runs as {uid}"
        group = env.get("STOCKROOM_SOCKET_GROUP")
        if group:
            import grp
            assert st.st_gid == grp.getgrnam(group).gr_gid, f"{path} group {st.st_gid}, expected {group}"
        else:
            assert st.st_gid == gid, f"{path} group {st.st_gid}, responder's group {gid}"
        observe(f"fastcgi socket {path.name}: mode {oct(stat.S_IMODE(st.st_mode))}, uid {st.st_uid}, gid {st.st_gid}")


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(int(m.group(1)))
    return inodes


def _inet_rows(pid: int, table: str) -> list[list[str]]:
    path = Path(f"/proc/{pid}/net/{table}")
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]


def test_responder_listens_on_no_tcp_port():
    for index, pid in _fcgi_pids().items():
        inodes = _socket_inodes(pid)
        assert inodes, f"stockroom-fcgi {pid} has no sockets at all?"
        for table in ("tcp", "tcp6"):
            for row in _inet_rows(pid, table):
                # sl local rem st tx:rx tr:when retrnsmt uid timeout inode
                if int(row[9]) in inodes:
                    assert row[3] != "0A", f"stockroom-fcgi {pid} listens on TCP {row[1]} ({table})"
        for table in ("udp", "udp6"):
            for row in _inet_rows(pid, table):
                assert int(row[9]) not in inodes, f"stockroom-fcgi {pid} has a UDP socket {row[1]} ({table})"
        # Its listening unix sockets: exactly its fcgi-N.sock.
        listening = set()
        for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]; Flags 00010000 = __SO_ACCEPTCON
            if len(parts) >= 7 and int(parts[6]) in inodes and int(parts[3], 16) & 0x10000:
                listening.add(parts[7] if len(parts) > 7 else "(unnamed)")
        assert listening == {str(Responder(index).sock_path)}, f"stockroom-fcgi {pid} listens on {listening}"
        observe(f"fastcgi: stockroom-fcgi {pid} listens only on {sorted(listening)}; no TCP/UDP listener")


def test_production_config_uses_unix_sockets_only():
    unit = (REPO / "systemd" / "stockroom-fcgi@.service").read_text()
    assert re.search(r"^Environment=STOCKROOM_SOCKET=/run/stockroom/fcgi-%i\.sock$", unit, re.M), unit
    assert re.search(r"^Environment=STOCKROOM_SOCKET_GROUP=\S+$", unit, re.M), "socket group not set"
    assert re.search(r"^User=stockroom$", unit, re.M)
    assert re.search(r"server unix:/run/stockroom/fcgi-\S*\.sock[^;]*;", (REPO / "scripts" / "install.sh").read_text())
    # The running stack's nginx: only unix-socket upstreams.
    conf = (stack_dir() / "nginx" / "nginx.conf").read_text()
    upstream = re.search(r"upstream\s+stockroom_fcgi\s*\{(.*?)\}", conf, re.S).group(1)
    servers = re.findall(r"^\s*server\s+([^\s;]+)", upstream, re.M)
    assert servers and all(s.startswith("unix:") for s in servers), f"upstream servers: {servers}"
