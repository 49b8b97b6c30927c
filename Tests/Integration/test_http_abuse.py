"""Issue 4: abuse at the HTTP level, through nginx.

- Slow clients: a stalled header or body is closed by nginx after client_header_timeout /
  client_body_timeout (10 s) without reaching a responder; many slow clients at once never pin
  the responders (nginx buffers the whole body first).
- Bodies over 64 KiB and slowly dripped bodies never reach the responder early, and a `Proxy:`
  header never reaches its environment: shown with a private nginx that includes the repository's
  nginx/stockroom-locations.conf in front of a capturing FastCGI server (the real responders do not
  echo their environment).
- Deeply nested JSON and extreme numbers in every numeric field: 400/422 (or the contract's value),
  never a 5xx, quickly.
- SQL metacharacters (and NUL) in every string field are stored and returned verbatim.

Things measured rather than asserted are printed in the "observations" section of the run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
import requests

from stockroom_kit.client import (
    ORDERS,
    PASSWORD,
    Api,
    assert_error,
    assert_order,
    assert_product,
    assert_status,
    describe,
    login,
    order_body,
    order_path,
    place_order,
    register,
    unique_name,
)
from stockroom_kit.fastcgi import (
    FCGI_BEGIN_REQUEST,
    FCGI_END_REQUEST,
    FCGI_PARAMS,
    FCGI_STDIN,
    FCGI_STDOUT,
    fcgi_decode_pairs,
    fcgi_read_record,
    fcgi_record,
)
from stockroom_kit.nginx import PrivateNginx, free_port, stockroom_server_lines
from stockroom_kit.plugin import observe
from stockroom_kit.stack import base_url, db_exec, stack_dir

REPO = Path(__file__).resolve().parents[2]
LOCATIONS_CONF = REPO / "nginx" / "stockroom-locations.conf"
LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
PRODUCTS = "/api/v1/products"
TIMEOUT_S = 10  # client_header_timeout and client_body_timeout in stockroom-locations.conf


def _host_port() -> tuple[str, int]:
    m = re.match(r"^http://([^:/]+):(\d+)$", base_url())
    assert m, f"unexpected STOCKROOM_URL {base_url()}"
    return m.group(1), int(m.group(2))


# ---------------------------------------------------------------- slow clients (the real stack)


class SlowClient(threading.Thread):
    """Sends `head`, then `drip` one byte every `interval` seconds, and records when the server
    closed the connection (or answered) relative to the start and to the last byte sent."""

    def __init__(self, name: str, head: bytes, drip: bytes = b"", interval: float = 1.0, give_up: float = 25.0,
                 address: tuple[str, int] | None = None):
        super().__init__(daemon=True)
        self.label = name
        self.head = head
        self.drip = drip
        self.interval = interval
        self.give_up = give_up
        self.address = address or _host_port()
        self.closed_after: float | None = None
        self.since_last_byte: float | None = None
        self.answer = b""
        self.sent = 0
        self.error: str | None = None

    def run(self) -> None:
        s = socket.create_connection(self.address, timeout=5)
        s.settimeout(0.1)
        start = time.monotonic()
        last_sent = start
        try:
            s.sendall(self.head)
            next_drip = start + self.interval
            while time.monotonic() - start < self.give_up:
                now = time.monotonic()
                if self.sent < len(self.drip) and now >= next_drip:
                    try:
                        s.sendall(self.drip[self.sent:self.sent + 1])
                    except OSError as exc:  # closed while we were sending: that is the close
                        self.error = type(exc).__name__
                        self._closed(start, last_sent)
                        return
                    self.sent += 1
                    last_sent = time.monotonic()
                    next_drip = last_sent + self.interval
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    continue
                except OSError as exc:
                    self.error = type(exc).__name__
                    self._closed(start, last_sent)
                    return
                if not chunk:
                    self._closed(start, last_sent)
                    return
                self.answer += chunk
        finally:
            s.close()

    def _closed(self, start: float, last_sent: float) -> None:
        now = time.monotonic()
        self.closed_after = now - start
        self.since_last_byte = now - last_sent

    def describe(self) -> str:
        if self.closed_after is None:
            return f"{self.label}: still open after {self.give_up:.0f} s ({self.sent} bytes dripped)"
        status = self.answer.split(b"\r\n", 1)[0].decode("latin-1") if self.answer else "no answer"
        return (f"{self.label}: closed after {self.closed_after:.1f} s, {self.since_last_byte:.1f} s after the "
                f"last byte ({self.sent} bytes dripped; {status}{'; ' + self.error if self.error else ''})")


def _post_head(content_length: int, path: str = LOGIN) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length}\r\nX-Slow-Client: {uuid.uuid4().hex}\r\n\r\n").encode()


def _assert_timed_out(c: SlowClient, low: float, high: float) -> None:
    assert c.closed_after is not None, c.describe()
    assert low <= c.since_last_byte <= high, c.describe()
    # nginx answers nothing on these timeouts (a 408 at most), never a responder's answer.
    if c.answer:
        assert c.answer.startswith(b"HTTP/1.1 408"), c.describe()


def test_stalled_and_dripped_headers_and_bodies_are_timed_out(api):
    """Run together so the suite waits once: each case's close is timed from its last byte."""
    access_log = stack_dir() / "nginx" / "access.log"
    log_offset = access_log.stat().st_size if access_log.exists() else 0
    clients = [
        # Request line not finished, then silence.
        SlowClient("header stalled", b"GET /health HTTP/1.1\r\nHo"),
        # Header dripped at 1 byte/s: client_header_timeout bounds the whole header.
        SlowClient("header dripped 1 B/s", b"GET /health HTTP/1.1\r\n", drip=b"X-Drip: " + b"a" * 100, interval=1.0),
        # Complete header, 10 of 100 body bytes, then silence.
        SlowClient("body stalled", _post_head(100) + b'{"username'),
        # Body dripped with 3 s gaps, then silence: each read restarts client_body_timeout.
        SlowClient("body dripped every 3 s then stalled", _post_head(100), drip=b'{"u', interval=3.0),
        # Body dripped at 1 byte/s for the whole run (measured, not asserted: see below).
        SlowClient("body dripped 1 B/s", _post_head(100), drip=b"x" * 100, interval=1.0, give_up=20.0),
    ]
    for c in clients:
        c.start()
    for c in clients:
        c.join(timeout=40)
    for c in clients:
        observe(f"slow client {c.describe()}")

    header_stalled, header_dripped, body_stalled, body_gaps, body_drip = clients
    _assert_timed_out(header_stalled, TIMEOUT_S - 1, TIMEOUT_S + 5)
    # client_header_timeout is one deadline for the whole header, however it trickles in.
    assert header_dripped.closed_after is not None and header_dripped.closed_after <= TIMEOUT_S + 5, (
        header_dripped.describe())
    assert not header_dripped.answer or header_dripped.answer.startswith(b"HTTP/1.1 408"), header_dripped.describe()
    _assert_timed_out(body_stalled, TIMEOUT_S - 1, TIMEOUT_S + 5)
    _assert_timed_out(body_gaps, TIMEOUT_S - 1, TIMEOUT_S + 5)
    assert body_gaps.sent == 3 and body_gaps.closed_after >= 3 * 3 + TIMEOUT_S - 1, body_gaps.describe()
    # nginx's client_body_timeout is per read ("between two successive read operations"), so a body
    # dripped faster than one byte per 10 s is not cut off by it. It never reaches a responder
    # either (see test_slow_clients_do_not_pin_responders and the capture tests).
    assert not body_drip.answer, body_drip.describe()

    # The timed-out requests never went upstream: nginx logged 408 with no upstream address.
    time.sleep(0.5)
    with access_log.open("rb") as f:
        f.seek(log_offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    timed_out = [line for line in lines if '" 408 ' in line]
    assert len(timed_out) >= 4, "\n".join(lines[-20:])
    assert all('ua="-"' in line for line in timed_out), "\n".join(timed_out)
    assert_status(api.get("/health"), 200)


def test_slow_clients_do_not_pin_responders(api):
    """More slow clients than there are responder threads in all (2 x 32): requests keep flowing."""
    host, port = _host_port()
    held: list[socket.socket] = []
    timings: list[float] = []
    try:
        for i in range(100):
            s = socket.create_connection((host, port), timeout=5)
            if i % 2:
                s.sendall(_post_head(1000) + b"{")  # body started, far from complete
            else:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")  # header unfinished
            held.append(s)
        deadline = time.monotonic() + 6
        drip = 0
        while time.monotonic() < deadline:
            for s in held:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            drip += 1
            for _ in range(3):
                t = time.monotonic()
                assert_status(api.get("/health"), 200)
                r = login(api, unique_name("ghost"), "wrong-password-1")
                assert_error(r, 401, "invalid_credentials")
                timings.append(time.monotonic() - t)
            time.sleep(max(0.0, 1.0 - 3 * timings[-1]))
    finally:
        for s in held:
            s.close()
    worst = max(timings)
    observe(f"slow clients: 100 held connections dripping 1 B/s; {len(timings)} GET /health + login pairs, "
            f"worst {worst * 1000:.0f} ms")
    assert worst < 3.0, f"a request pair took {worst:.2f} s while slow clients were connected"
    assert_status(api.get("/health"), 200)


# ---------------------------------------------------------------- a private nginx in front of a capturing responder


class CaptureResponder:
    """A FastCGI responder on a unix socket that records every request (params and body) and
    answers 200 {"captured": true}."""

    def __init__(self, path: Path):
        self.path = path
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        os.chmod(path, 0o666)
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(60)
        try:
            while True:
                params, stdin, request_id, keep = b"", b"", None, False
                params_done = stdin_done = False
                while not (params_done and stdin_done):
                    record = fcgi_read_record(conn)
                    if record is None:
                        return
                    if record.type == FCGI_BEGIN_REQUEST:
                        request_id, keep = record.request_id, bool(record.content[2] & 1)
                    elif record.type == FCGI_PARAMS:
                        params += record.content
                        params_done = not record.content
                    elif record.type == FCGI_STDIN:
                        stdin += record.content
                        stdin_done = not record.content
                with self.lock:
                    self.requests.append({"params": fcgi_decode_pairs(params), "stdin": stdin, "at": time.monotonic()})
                body = b'{"captured": true}'
                out = b"Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body), body)
                conn.sendall(fcgi_record(FCGI_STDOUT, request_id, out) + fcgi_record(FCGI_STDOUT, request_id)
                             + fcgi_record(FCGI_END_REQUEST, request_id, b"\x00" * 8))
                if not keep:
                    return
        except (OSError, Exception):
            return
        finally:
            conn.close()

    def taken(self) -> list[dict]:
        with self.lock:
            out, self.requests = self.requests, []
        return out

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """nginx with the repository's stockroom-locations.conf, its upstream a CaptureResponder."""
    d = tmp_path_factory.mktemp("capture-nginx")
    responder = CaptureResponder(d / "capture.sock")
    port = free_port()
    try:
        nginx = PrivateNginx(d, f"""
    {stockroom_server_lines("http")}
    upstream stockroom_fcgi {{
        server unix:{responder.path};
        keepalive 2;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        {stockroom_server_lines("server")}
    }}""", [port], error_log_level="warn", default_type=None)
    except BaseException:
        responder.close()
        raise
    url = f"http://127.0.0.1:{port}"
    try:
        yield {"url": url, "responder": responder, "port": port}
    finally:
        nginx.stop()
        responder.close()


def _params(captured: dict) -> list[tuple[str, str]]:
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in captured["params"]]


def test_proxy_header_never_reaches_the_responder_environment(capture):
    url, responder = capture["url"], capture["responder"]
    marker = "evil-" + uuid.uuid4().hex[:8]
    # Control: an ordinary header does reach the responder, so the capture would show a Proxy header.
    r = requests.get(url + "/health", headers={"X-Probe": marker, "Proxy": f"http://{marker}.example:3128/"},
                     timeout=10)
    assert r.status_code == 200 and r.json() == {"captured": True}, describe(r)
    (seen,) = responder.taken()
    params = _params(seen)
    assert ("HTTP_X_PROBE", marker) in params, params
    # nginx drops an HTTP_* parameter set to "" and with it the header: no HTTP_PROXY at all.
    proxy = [v for n, v in params if n == "HTTP_PROXY"]
    assert all(v == "" for v in proxy), f"HTTP_PROXY sent upstream as {proxy}"
    leaked = [(n, v) for n, v in params if f"{marker}.example" in v]
    assert not leaked, f"the Proxy header's value reached the responder as {leaked}"
    # Two Proxy headers, odd spelling, on a POST with a body.
    host, port = "127.0.0.1", capture["port"]
    raw = (f"POST {LOGIN} HTTP/1.1\r\nHost: localhost\r\nproxy: http://{marker}.example/\r\n"
           f"PROXY: http://{marker}.example:8080/\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
           f"Connection: close\r\n\r\n{{}}").encode()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(raw)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    (seen,) = responder.taken()
    params = _params(seen)
    assert all(v == "" for n, v in params if n == "HTTP_PROXY"), params
    assert not [(n, v) for n, v in params if marker in v], params
    observe(f"httpoxy: HTTP_PROXY parameters nginx sent upstream for requests with Proxy headers: "
            f"{[v for n, v in params if n == 'HTTP_PROXY']!r} (none: nginx drops an HTTP_* param set to \"\")")


def test_proxy_param_is_set_at_server_level_for_every_location():
    text = LOCATIONS_CONF.read_text()
    assert re.search(r'^fastcgi_param\s+HTTP_PROXY\s+""\s*;', text, re.M), "no top-level fastcgi_param HTTP_PROXY \"\""
    # A location with its own fastcgi_param would stop inheriting the server-level ones (HTTP_PROXY included).
    for block in re.findall(r"location\s[^{]*\{([^}]*)\}", text):
        assert "fastcgi_param" not in block, f"a location sets its own fastcgi_param: {block}"
    # The rendered config of the running stack includes that file.
    rendered = (stack_dir() / "nginx" / "nginx.conf").read_text()
    assert f"include {LOCATIONS_CONF};" in rendered or "stockroom-locations.conf" in rendered


def test_proxy_header_on_real_stack_writes(api, admin_api):
    # test_conventions covers reads; a write with a Proxy header works normally too.
    name = unique_name("proxy")
    r = admin_api.post(PRODUCTS, json={"name": name, "price": 1, "stock": 1}, headers={"Proxy": "http://127.0.0.1:9/"})
    assert assert_product(assert_status(r, 201))["name"] == name


def test_body_over_64k_never_reaches_the_responder(capture):
    url, responder = capture["url"], capture["responder"]
    big = b'{"name": "' + b"a" * (70 * 1024) + b'"}'
    r = requests.post(url + LOGIN, data=big, headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(r, 413, "payload_too_large")

    def chunks():
        for _ in range(80):
            yield b"a" * 1024

    r = requests.post(url + LOGIN, data=chunks(), headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(r, 413, "payload_too_large")
    time.sleep(0.2)
    assert responder.taken() == [], "an oversized body reached the responder"
    # exactly 64 KiB does
    r = requests.post(url + LOGIN, data=b" " * 65536, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, describe(r)
    (seen,) = responder.taken()
    assert len(seen["stdin"]) == 65536 and dict(_params(seen))["CONTENT_LENGTH"] == "65536"


def test_slow_body_reaches_the_responder_only_when_complete(capture):
    responder = capture["responder"]
    body = b'{"username": "slow", "password": "drip-drip-1"}'
    with socket.create_connection(("127.0.0.1", capture["port"]), timeout=10) as s:
        s.sendall(_post_head(len(body)) .replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        for i in range(len(body) - 1):
            s.sendall(body[i:i + 1])
            time.sleep(0.05)
        time.sleep(1.0)
        assert responder.taken() == [], "the responder got the request before its body was complete"
        s.sendall(body[-1:])
        completed = time.monotonic()
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    (seen,) = responder.taken()
    assert seen["stdin"] == body and dict(_params(seen))["CONTENT_LENGTH"] == str(len(body))
    assert seen["at"] >= completed - 0.01


# ---------------------------------------------------------------- deeply nested JSON


@pytest.fixture(scope="module")
def buyer_token() -> str:
    """A customer of this module's own, so its orders never show up in another test's customer."""
    client = Api()
    name = unique_name("buyer")
    assert_status(register(client, name), 201)
    body = assert_status(login(client, name, PASSWORD), 200)
    client.close()
    return body["token"]


def _nested(depth: int, kind: str) -> bytes:
    if kind == "arrays":
        return b"[" * depth + b"]" * depth
    if kind == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    pairs = (depth + 1) // 2
    return b'[{"a":' * pairs + b"1" + b"}]" * pairs  # mixed


def _raw(api: Api, method: str, path: str, data: bytes, token: str | None = None) -> requests.Response:
    return api.request(method, path, data=data, headers={"Content-Type": "application/json"}, token=token,
                       timeout=15)


@pytest.fixture
def endpoints(api, admin_token, buyer_token, make_product):
    p = make_product(stock=1000)
    return [
        ("POST", LOGIN, None),
        ("POST", REGISTER, None),
        ("POST", PRODUCTS, admin_token),
        ("PUT", f"{PRODUCTS}/{p['id']}", admin_token),
        ("POST", f"{PRODUCTS}/{p['id']}/restock", admin_token),
        ("POST", ORDERS, buyer_token),
    ]


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed"])
def test_deeply_nested_json_everywhere_is_400(api, endpoints, kind):
    worst = 0.0
    for depth in (65, 10_000, 30_000):
        data = _nested(depth, kind)
        if len(data) > 64 * 1024:
            continue
        for method, path, token in endpoints:
            t = time.monotonic()
            r = _raw(api, method, path, data, token)
            worst = max(worst, time.monotonic() - t)
            assert_error(r, 400, "invalid_json")
            # nested inside an otherwise valid field
            inner = b'{"username": ' + data + b', "password": "abcdefghij"}'
            if len(inner) <= 64 * 1024:
                assert_error(_raw(api, method, path, inner, token), 400, "invalid_json")
    assert worst < 2.0, f"a nested body took {worst:.2f} s"
    assert_status(api.get("/health"), 200)


def test_nesting_limit_is_64(api):
    # 64 levels in all is valid JSON (then the wrong shape: 422); 65 is refused by the parser (400).
    ok = b'{"username": ' + b"[" * 63 + b"]" * 63 + b', "password": "abcdefghij"}'
    assert_error(_raw(api, "POST", LOGIN, ok), 422, "validation_failed", field="username")
    too_deep = b'{"username": ' + b"[" * 64 + b"]" * 64 + b', "password": "abcdefghij"}'
    assert_error(_raw(api, "POST", LOGIN, too_deep), 400, "invalid_json")


# ---------------------------------------------------------------- extreme numbers in every numeric field

NUMBERS = [
    "1e999999", "-1e999999", "1E+999999999999", "-0", "-0.0", "0e999999999", "1e-400", "-1e-400", "5e-324",
    "1e308", "1.7976931348623157e309", "123456789012345678901234567890", "-123456789012345678901234567890",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "1E+2", "1.5", "0.1e1", "100e-2", "1" + "0" * 400, "0." + "0" * 400 + "1", "9" * 20000,
    "0." + "0" * 20000 + "1", "1" + "0" * 20000 + "e-20000",
]


def _value(literal: str) -> Decimal:
    return Decimal(literal)


def _whole_in(literal: str, low: int, high: int) -> int | None:
    v = _value(literal)
    if v < low or v > high:
        return None
    return int(v) if v == v.to_integral_value() else None


def _price(literal: str) -> Decimal | None:
    v = _value(literal)
    if v < 0 or v > Decimal("99999999.99"):
        return None
    try:
        q = v.quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return q if q == v else None


def _number_body(template: dict, field: str, literal: str) -> bytes:
    body = json.dumps(template)
    return body.replace(f'"@{field}@"', literal).encode()


def _check(r: requests.Response, elapsed: float, label: str) -> None:
    assert r.status_code < 500, f"{label}: {describe(r)}"
    assert elapsed < 2.0, f"{label}: took {elapsed:.2f} s"


@pytest.mark.parametrize("field", ["price", "stock"])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_extreme_numbers_in_product_fields(api, admin_token, make_product, method, field):
    target = make_product(stock=5)
    path = PRODUCTS if method == "POST" else f"{PRODUCTS}/{target['id']}"
    template = {"name": unique_name("num"), "price": "@price@" if field == "price" else 1,
                "stock": "@stock@" if field == "stock" else 1}
    for literal in NUMBERS:
        t = time.monotonic()
        r = _raw(api, method, path, _number_body(template, field, literal), admin_token)
        label = f"{method} {field}={literal[:40]}"
        _check(r, time.monotonic() - t, label)
        expected = _price(literal) if field == "price" else _whole_in(literal, 0, 1_000_000_000)
        if expected is None:
            assert_error(r, 422, "validation_failed", field=field)
        else:
            p = assert_product(assert_status(r, 201 if method == "POST" else 200))
            assert p[field] == expected, f"{label}: {p}"


def test_extreme_numbers_in_restock_quantity(api, admin_token, make_product):
    p = make_product(stock=0)
    stock = 0
    for literal in NUMBERS:
        t = time.monotonic()
        r = _raw(api, "POST", f"{PRODUCTS}/{p['id']}/restock", _number_body({"quantity": "@quantity@"}, "quantity",
                                                                             literal), admin_token)
        _check(r, time.monotonic() - t, f"restock quantity={literal[:40]}")
        q = _whole_in(literal, 1, 1_000_000)
        if q is None:
            assert_error(r, 422, "validation_failed", field="quantity")
        else:
            stock += q
            assert assert_product(assert_status(r, 200))["stock"] == stock


@pytest.mark.parametrize("form", ["short", "items"])
@pytest.mark.parametrize("field", ["product_id", "quantity"])
def test_extreme_numbers_in_order_fields(api, buyer_token, make_product, form, field):
    p = make_product(stock=1_000_000)
    for literal in NUMBERS:
        line = {"product_id": "@product_id@" if field == "product_id" else p["id"],
                "quantity": "@quantity@" if field == "quantity" else 1}
        template = line if form == "short" else {"items": [line]}
        if field == "product_id" and _whole_in(literal, 1, 2**63 - 2) not in (None, p["id"]):
            continue  # a valid id of another test's product: not ours to buy (2**63-1 is nobody's)
        t = time.monotonic()
        r = _raw(api, "POST", ORDERS, _number_body(template, field, literal), buyer_token)
        label = f"order {form} {field}={literal[:40]}"
        _check(r, time.monotonic() - t, label)
        prefix = "" if form == "short" else "items[0]."
        if field == "quantity":
            q = _whole_in(literal, 1, 1000)
            if q is None:
                assert_error(r, 422, "validation_failed", field=prefix + "quantity")
            else:
                o = assert_order(assert_status(r, 201))
                assert o["items"][0]["quantity"] == q, f"{label}: {o}"
        else:
            pid = _whole_in(literal, 1, 2**63 - 1)
            value = _value(literal)
            if pid == p["id"]:
                assert r.status_code == 201, f"{label}: {describe(r)}"
            elif value >= 1 and value == value.to_integral_value():
                # Any positive whole number is an id; one that names no product is not found.
                assert_error(r, 404, "product_not_found")
            else:
                assert_error(r, 422, "validation_failed", field=prefix + "product_id")


def test_numbers_where_strings_belong_and_in_query_parameters(api, buyer_token):
    for literal in ("1e999999", "-0", "123456789012345678901234567890", "1e-400"):
        for path in (LOGIN, REGISTER):
            body = f'{{"username": {literal}, "password": "abcdefghij"}}'.encode()
            assert_error(_raw(api, "POST", path, body), 422, "validation_failed", field="username")
            body = f'{{"username": "abc_def", "password": {literal}}}'.encode()
            assert_error(_raw(api, "POST", path, body), 422, "validation_failed", field="password")
    for value in ("1e999999", "-0", "123456789012345678901234567890", "1e-400", "9223372036854775808",
                  "1'; DROP TABLE products; --", "%00", "1 OR 1=1", "9223372036854775807", "9" * 400):
        for path, token in ((PRODUCTS, None), (ORDERS, buyer_token)):
            for name in ("limit", "after"):
                r = api.get(path, params={name: value}, token=token)
                assert r.status_code in (200, 422), describe(r)
                if r.status_code == 422:
                    assert_error(r, 422, "validation_failed", field=name)
                elif name == "after":
                    # Digits only: an id, however large; nothing has a greater one.
                    assert value.isdigit() and int(value) >= 2**63 - 1, describe(r)
                    assert r.json() == {"items": [], "next_after": None}, describe(r)


# ---------------------------------------------------------------- SQL metacharacters, stored and returned verbatim

NASTY = [
    "'; DROP TABLE users; --",
    "Robert'); DELETE FROM products WHERE ('1'='1",
    "\\",
    "trailing backslash \\",
    "\\'",
    '"double" \\"escaped\\"',
    "% _ %% __ \\% \\_",
    "' OR '1'='1' /* */ -- #",
    "`backticks` ${x} $1 ?",
    "nul \u0000 inside",
    "\u0000",
    "0x27 CHAR(39) \u2019 \uff07",
    "line\nbreak\rreturn\ttab",
    "emoji 😀 and \U0001f4a9",
]


def _db_hex(sql: str) -> str:
    return db_exec(sql).strip()


@pytest.mark.parametrize("name", NASTY, ids=lambda n: repr(n)[:30])
def test_metacharacters_in_product_names_and_order_lines(api, admin_api, buyer_token, name):
    created = assert_product(assert_status(admin_api.post(PRODUCTS, json={"name": name, "price": 1, "stock": 5}), 201))
    assert created["name"] == name
    pid = created["id"]
    assert _db_hex(f"SELECT HEX(name) FROM products WHERE id = {int(pid)}") == name.encode().hex().upper()
    # PUT writes it again through UPDATE
    renamed = name + " (v2)"
    r = admin_api.put(f"{PRODUCTS}/{pid}", json={"name": renamed, "price": 2, "stock": 5})
    assert assert_product(assert_status(r, 200))["name"] == renamed
    assert assert_status(api.get(f"{PRODUCTS}/{pid}"), 200)["name"] == renamed
    assert _db_hex(f"SELECT HEX(name) FROM products WHERE id = {int(pid)}") == renamed.encode().hex().upper()
    # The order line copies the name
    o = assert_order(assert_status(place_order(api, order_body((pid, 1)), token=buyer_token), 201))
    assert o["items"][0]["name"] == renamed
    again = assert_order(assert_status(api.get(order_path(o["id"]), token=buyer_token), 200))
    assert again["items"][0]["name"] == renamed
    assert _db_hex(f"SELECT HEX(name) FROM order_items WHERE order_id = {int(o['id'])}") == renamed.encode().hex().upper()


# Idempotency keys are 1..255 visible ASCII characters: every metacharacter that fits.
KEYS = [
    "';DROP/**/TABLE/**/orders;--",
    "'OR'1'='1",
    "\\",
    "\\'",
    '"',
    "%",
    "_",
    "%_%",
    "a%",
    "a_c",
    "`;$(id)`",
    "key\\0",
]


def test_metacharacters_in_idempotency_keys(api, make_product, new_user):
    user = new_user("idem")
    token = user["token"]
    p = make_product(stock=1000)
    tag = uuid.uuid4().hex[:8]
    orders = {}
    for key in KEYS:
        k = f"{tag}{key}"
        first = place_order(api, order_body((p["id"], 1)), token=token, key=k)
        o = assert_order(assert_status(first, 201))
        again = place_order(api, order_body((p["id"], 1)), token=token, key=k)
        assert assert_status(again, 201)["id"] == o["id"], f"key {k!r} did not replay: {describe(again)}"
        stored = _db_hex(f"SELECT HEX(idempotency_key) FROM idempotency_keys WHERE order_id = {int(o['id'])}")
        assert stored == k.encode().hex().upper(), f"key {k!r} stored as {bytes.fromhex(stored)!r}"
        orders[k] = o["id"]
    assert len(set(orders.values())) == len(KEYS), "two different keys shared an order"
    # Keys that a LIKE pattern ('%' any run, '_' any one character) or a case-insensitive
    # comparison would confuse with the keys above are distinct keys: new orders, no replay.
    for lookalike in (f"{tag}ab", f"{tag}abc", f"{tag}axc", f"{tag}A_C", f"{tag}x", f"{tag}"):
        r = place_order(api, order_body((p["id"], 1)), token=token, key=lookalike)
        o = assert_status(r, 201)
        assert o["id"] not in orders.values(), f"key {lookalike!r} replayed another key's order"
        assert r.headers.get("Idempotent-Replayed", "").lower() != "true", describe(r)


def test_metacharacters_in_passwords_and_username_wildcards(api):
    password = "'; DROP TABLE users; -- \\ \" % _ \u0000 end"
    name = unique_name("a_b")
    assert_status(register(api, name, password), 201)
    assert_status(login(api, name, password), 200)
    # The password is compared whole, NUL and all.
    for wrong in ("'; DROP TABLE users; -- \\ \" % _ ", password.replace("\u0000", ""), password + " ", "%", "' OR '1'='1"):
        assert_error(login(api, name, wrong), 401, "invalid_credentials")
    # `_` in a username is a literal character, not a one-character wildcard.
    lookalike = name.replace("a_b", "axb", 1)
    assert_error(login(api, lookalike, password), 401, "invalid_credentials")
    assert _db_hex(f"SELECT HEX(username) FROM users WHERE username = '{name}'") == name.encode().hex().upper()
