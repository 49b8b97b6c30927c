"""Issue 8 (5, first item): every error nginx produces itself has the contract's JSON shape.

The contract: every error is `{"error": {"code": "snake_case", "message": "..."}}` with
`Content-Type: application/json`, whoever produced it. nginx answers some requests itself, before
or instead of a responder; nginx/stockroom-locations.conf turns each of those statuses into a JSON
answer (error_page -> internal location -> `return`). Found with crafted raw requests against
nginx 1.22 (Debian 12) and its source; the class is tested here, not only the two reported cases
(501 for `Transfer-Encoding: gzip`, 505 for `HTTP/9.9`).

Statuses nginx sends itself with this configuration, and how they are reached:
  400  bad request line, bad or duplicate headers, Host missing/invalid/duplicated, bad
       Content-Length, Content-Length with Transfer-Encoding, Transfer-Encoding on HTTP/1.0, bad
       chunked framing, an HTTP/2 preface or TLS handshake on the plain HTTP/1 port
  400  (494) request headers over large_client_header_buffers
  400  (497) plain HTTP on a TLS port, once `listen ... ssl` is added as the site file suggests
  403  /metrics from a non-loopback address
  404  the internal error locations themselves
  405  TRACE and CONNECT
  413  a body over 64 KiB (Content-Length or chunked)
  414  a request line over large_client_header_buffers
  500  an nginx failure (shown here with a request body that cannot be written to its temp file)
  501  a Transfer-Encoding other than exactly `chunked`
  502  no responder reachable
  503  only with a limiting module (limit_req / limit_conn), not in the shipped configuration
  504  a responder that does not answer (here: connect timeout)
  505  an HTTP major version above 1 (`HTTP/9.9`, `HTTP/2.0`)

Statuses nginx does not send with this configuration (no page needed, checked where possible):
  408  a header or body timeout closes the connection without an answer (test_http_abuse times it);
       a chunk header whose data never follows waits for the body timeout the same way
  411  nginx 1.22 never produces it (a body without Content-Length is read chunked or is empty)
  412  the not-modified filter is off for uncached upstream answers (If-Match, If-Unmodified-Since)
  416  ranges apply only to static or cached answers; a FastCGI answer ignores Range
  417  an unknown Expect is ignored
  421, 495, 496  only with client certificates (ssl_verify_client)
  429, 507  only with fastcgi_next_upstream http_429, or the DAV module
  444  only when the configuration says `return 444` (nothing is sent then)
  499  logged when the client went away; nothing is sent
HTTP/0.9 requests (`GET /x` with no version) get a bare body and no status line or headers, as
HTTP/0.9 has neither: that body is the same JSON.

Errors nginx meets before it knows the Host (the request line, 414, 505, the Host header itself)
are answered by the default server of the listening address. The dev stack has one server; the
production site is checked here rendered the way scripts/install.sh renders it, and a second
server that is the default shows why the Stockroom server must be the default one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from stockroom_kit.nginx import HTTP_CONF, OPENAPI_FILE, PrivateNginx, free_port, stockroom_server_lines
from stockroom_kit.plugin import observe
from stockroom_kit.stack import base_url

REPO = Path(__file__).resolve().parents[2]
NGINX_DIR = REPO / "nginx"
LOCATIONS_CONF = NGINX_DIR / "stockroom-locations.conf"
SITE_CONF = NGINX_DIR / "stockroom.site.conf"
DEV_TEMPLATE = NGINX_DIR / "dev.conf.template"
HOST = "Host: localhost\r\n"
ERROR_PREFIX = "/.stockroom/error/"
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

# Every status nginx can answer with itself for this configuration (see the docstring). 494 and
# 497 are nginx's internal codes; the client sees 400 for both.
NGINX_STATUSES = {400, 403, 404, 405, 413, 414, 494, 497, 500, 501, 502, 503, 504, 505}
WIRE_STATUS = {494: 400, 497: 400}


def _stack_address() -> tuple[str, int]:
    m = re.match(r"^http://([^:/]+):(\d+)$", base_url())
    assert m, f"unexpected STOCKROOM_URL {base_url()}"
    return m.group(1), int(m.group(2))


# ---------------------------------------------------------------- a raw HTTP/1 client


class Raw:
    """One answer read off a socket: status line, headers, body; `closed` when nginx closed the
    connection after it; `http09` when there was no status line at all (an HTTP/0.9 answer)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.status_line = b""
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.closed = False
        self.http09 = False
        self.reset = False

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n == name.lower()]
        return values[0] if values else None

    def header_count(self, name: str) -> int:
        return sum(1 for n, _ in self.headers if n == name.lower())

    def __repr__(self) -> str:
        return (f"Raw({self.status_line!r}, headers={self.headers}, body={self.body[:300]!r}, "
                f"closed={self.closed}, http09={self.http09}, reset={self.reset})")


def _recv(sock: socket.socket) -> bytes | None:
    """Bytes, b"" at EOF, None on a timeout. A reset counts as EOF."""
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except ConnectionResetError:
        return b""


def read_answer(sock: socket.socket, head: bool = False, buf: bytes = b"") -> tuple[Raw, bytes]:
    """Read one answer; returns it and whatever bytes followed it."""
    raw = Raw()
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock)
        if chunk is None:
            pytest.fail(f"no complete answer within the timeout; got {buf[:300]!r}")
        if not chunk:
            raw.closed = True
            break
        buf += chunk
        if len(buf) >= 5 and not buf.startswith(b"HTTP/"):
            break
    if not buf.startswith(b"HTTP/"):
        # HTTP/0.9: the body alone, up to the close.
        raw.http09 = True
        while not raw.closed:
            chunk = _recv(sock)
            if chunk is None:
                pytest.fail(f"HTTP/0.9 answer not closed within the timeout; got {buf[:300]!r}")
            if not chunk:
                raw.closed = True
            buf += chunk
        raw.body = buf
        return raw, b""
    head_bytes, _, rest = buf.partition(b"\r\n\r\n")
    lines = head_bytes.split(b"\r\n")
    raw.status_line = lines[0]
    raw.status = int(lines[0].split()[1])
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        raw.headers.append((name.strip().lower(), value.strip()))
    if head or raw.status in (204, 304) or raw.status < 200:
        return raw, rest
    length = raw.header("content-length")
    if length is not None:
        n = int(length)
        while len(rest) < n:
            chunk = _recv(sock)
            if chunk is None:
                pytest.fail(f"body shorter than Content-Length {n} after the timeout: {raw!r} {rest!r}")
            if not chunk:
                raw.closed = True
                break
            rest += chunk
        raw.body, rest = rest[:n], rest[n:]
        return raw, rest
    # No length: up to the close (nginx's own answers always carry a Content-Length).
    while not raw.closed:
        chunk = _recv(sock)
        if chunk is None:
            pytest.fail(f"answer without Content-Length not closed within the timeout: {raw!r}")
        if not chunk:
            raw.closed = True
        rest += chunk
    raw.body = rest
    return raw, b""


def connection_state(sock: socket.socket, leftover: bytes, wait: float = 1.0) -> str:
    """After an answer: "closed" (EOF, nothing more), "open" (nothing more, still open), or
    "extra" (more bytes arrived: a HEAD answer that carried a body, say)."""
    if leftover:
        return "extra"
    sock.settimeout(wait)
    chunk = _recv(sock)
    if chunk is None:
        return "open"
    return "closed" if chunk == b"" else "extra"


def exchange(request: bytes, *, address: tuple[str, int] | None = None, source: str | None = None,
             head: bool | None = None, tls: bool = False, timeout: float = 10) -> tuple[Raw, str]:
    """Send one raw request on a fresh connection and read one answer; also report what the
    connection did next (see connection_state)."""
    host, port = address or _stack_address()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if source:
        sock.bind((source, 0))
    sock.connect((host, port))
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    try:
        sock.sendall(request)
        if head is None:
            head = request.startswith(b"HEAD ") and b"HTTP/1." in request.split(b"\r\n", 1)[0]
        raw, rest = read_answer(sock, head=head)
        state = "closed" if raw.closed else connection_state(sock, rest)
        return raw, state
    finally:
        sock.close()


def assert_json_error(raw: Raw, status: int, code: str | set[str] | None = None, *, head: bool = False,
                      what: str = "") -> dict | None:
    """The contract's error shape on the wire: status, Content-Type application/json, a
    Content-Length that matches, and a body {"error": {"code": snake_case, "message": str}}.
    For HEAD: the same headers and no body at all."""
    label = f"{what}: {raw!r}"
    assert not raw.http09, f"no status line: {label}"
    assert raw.status == status, label
    ctype = raw.header("content-type") or ""
    assert ctype.split(";")[0].strip().lower() == "application/json", f"Content-Type {ctype!r}: {label}"
    assert raw.header_count("content-type") == 1, label
    # Issue 12: nginx's own answers carry the request id, like the backend's.
    assert raw.header_count("x-request-id") == 1 and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", raw.header("x-request-id")), (
        f"X-Request-Id: {label}")
    length = raw.header("content-length")
    assert length is not None and length.isdigit(), f"no Content-Length: {label}"
    if head:
        assert raw.body == b"", label
        return None
    assert int(length) == len(raw.body), label
    return assert_error_body(raw.body, code, what=label)


def assert_error_body(body: bytes, code: str | set[str] | None, what: str = "") -> dict:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        pytest.fail(f"body is not UTF-8 JSON ({exc}): {what} {body[:300]!r}")
    assert isinstance(doc, dict) and set(doc) == {"error"}, f"{what} {doc!r}"
    err = doc["error"]
    assert isinstance(err, dict) and set(err) == {"code", "message"}, f"{what} {doc!r}"
    assert isinstance(err["code"], str) and SNAKE.match(err["code"]), f"{what} {doc!r}"
    assert isinstance(err["message"], str) and err["message"].strip(), f"{what} {doc!r}"
    if isinstance(code, set):
        assert err["code"] in code, f"{what} {doc!r}"
    elif code is not None:
        assert err["code"] == code, f"{what} {doc!r}"
    return err


def as_head(request: bytes) -> bytes:
    """The same request with HEAD as its method."""
    method, sep, rest = request.partition(b" ")
    assert sep, request[:60]
    return b"HEAD " + rest


# ---------------------------------------------------------------- the configuration itself


def _error_pages(text: str) -> dict[int, str]:
    pages: dict[int, str] = {}
    for codes, uri in re.findall(r"^\s*error_page\s+((?:\d+\s+)+)(\S+)\s*;", text, re.M):
        for code in codes.split():
            pages[int(code)] = uri
    return pages


def _location_blocks(text: str) -> list[tuple[str, str]]:
    """(match, body) of every top-level location: up to its closing brace alone on a line (the
    JSON bodies inside hold braces of their own)."""
    return re.findall(r"^location\s+([^{]*?)\s*\{\n(.*?)^\}", text, re.M | re.S)


def _locations(text: str) -> dict[str, str]:
    return {m[len("= "):].strip(): body for m, body in _location_blocks(text) if m.startswith("= ")}


def _nginx_unquote(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), s)


def test_every_status_nginx_produces_has_a_json_page():
    text = LOCATIONS_CONF.read_text()
    pages = _error_pages(text)
    missing = NGINX_STATUSES - set(pages)
    assert not missing, f"no error_page for {sorted(missing)} in {LOCATIONS_CONF.name}"
    locations = _locations(text)
    codes = {}
    for status, uri in sorted(pages.items()):
        assert uri.startswith(ERROR_PREFIX), (status, uri)
        block = locations.get(uri)
        assert block is not None, f"error_page {status} {uri}: no `location = {uri}`"
        assert re.search(r"^\s*internal\s*;", block, re.M), f"{uri} is not internal"
        assert re.search(r"^\s*default_type\s+application/json\s*;", block, re.M), f"{uri}: not application/json"
        assert re.search(r"^\s*add_header\s+X-Request-Id\s+\$stockroom_request_id\s+always\s*;", block, re.M), (
            f"{uri}: no X-Request-Id")
        assert re.search(r'^\s*add_header\s+Cache-Control\s+"no-store"\s+always\s*;', block, re.M), (
            f"{uri}: no Cache-Control: no-store (every error is no-store, docs/api.md)")
        m = re.search(r"^\s*return\s+(\d+)\s+'((?:[^'\\]|\\.)*)'\s*;", block, re.M)
        assert m, f"{uri}: no `return <status> '<json>'`"
        assert int(m.group(1)) == WIRE_STATUS.get(status, status), f"{uri} answers {m.group(1)}, not {status}"
        codes[status] = assert_error_body(_nginx_unquote(m.group(2)).encode(), None, what=uri)["code"]
    # A location with its own error_page (or intercepting the backend's errors) would stop
    # inheriting these, or would replace the backend's own JSON errors.
    blocks = _location_blocks(text)
    assert len(blocks) == len(re.findall(r"^location\s", text, re.M)), "a location this test cannot read"
    for match, block in blocks:
        assert not re.search(r"^\s*error_page\s", block, re.M), f"location {match} has its own error_page"
    assert not re.search(r"^\s*fastcgi_intercept_errors\s+on", text, re.M)
    # Both configurations include the snippet inside their one server block, so its error_page
    # rules are server-level (they also apply before a location is chosen).
    for conf in (DEV_TEMPLATE, SITE_CONF):
        conf_text = conf.read_text()
        assert len(re.findall(r"^\s*server\s*\{", conf_text, re.M)) == 1, conf
        server = conf_text[re.search(r"^\s*server\s*\{", conf_text, re.M).end():]
        assert re.search(r"^\s*include\s+\S*stockroom-locations\.conf\s*;", server, re.M), conf
        assert not re.search(r"^\s*error_page\s", conf_text, re.M), (
            f"{conf.name} has its own error_page: keep them all in {LOCATIONS_CONF.name}")
    observe("nginx error pages: " + ", ".join(f"{s}->{WIRE_STATUS.get(s, s)} {c}" for s, c in sorted(codes.items())))


# ---------------------------------------------------------------- the running stack (dev.conf.template)

LONG = "a" * 9000  # over one 8k large_client_header_buffers buffer
E400 = "bad_request"
E494 = "request_header_too_large"

# (id, raw request, status on the wire, error code, HEAD variant makes sense)
CASES = [
    # request line
    ("method-bad-char", f"G@T / HTTP/1.1\r\n{HOST}\r\n", 400, E400, False),
    ("method-lowercase", f"get / HTTP/1.1\r\n{HOST}\r\n", 400, E400, False),
    ("version-garbage", f"GET / HTTP/x.1\r\n{HOST}\r\n", 400, E400, True),
    ("version-lowercase", f"GET / http/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("space-in-target", f"GET / / HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("tab-separator", f"GET\t/ HTTP/1.1\r\n{HOST}\r\n", 400, E400, False),
    ("target-without-slash", f"GET abc HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("target-above-root", f"GET /../../etc/passwd HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("target-bad-percent", f"GET /%zz HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("target-percent-nul", f"GET /a%00b HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("target-control-char", f"GET /a\x01b HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("absolute-target-bad-host", f"GET http://exa mple/ HTTP/1.1\r\n{HOST}\r\n", 400, E400, True),
    ("connect-authority-form", f"CONNECT example.com:443 HTTP/1.1\r\n{HOST}\r\n", 400, E400, False),
    ("http2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, E400, False),
    ("tls-client-hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + "a" * 40 + "\r\n\r\n", 400, E400, False),
    # Host
    ("host-missing-http11", "GET /health HTTP/1.1\r\n\r\n", 400, E400, True),
    ("host-duplicate", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, E400, True),
    ("host-slash", "GET /health HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, E400, True),
    ("host-dotdot", "GET /health HTTP/1.1\r\nHost: ..\r\n\r\n", 400, E400, True),
    ("host-empty", "GET /health HTTP/1.1\r\nHost: \r\n\r\n", 400, E400, True),
    # header lines
    ("header-nul", f"GET / HTTP/1.1\r\n{HOST}X-A: a\x00b\r\n\r\n", 400, E400, True),
    ("header-obs-fold", f"GET / HTTP/1.1\r\n{HOST}X-A: a\r\n  folded\r\n\r\n", 400, E400, True),
    ("header-space-before-colon", f"GET / HTTP/1.1\r\n{HOST}X-A : a\r\n\r\n", 400, E400, True),
    ("header-name-del", f"GET / HTTP/1.1\r\n{HOST}X\x7fA: a\r\n\r\n", 400, E400, True),
    # body framing
    ("content-length-negative", f"POST /x HTTP/1.1\r\n{HOST}Content-Length: -1\r\n\r\n", 400, E400, True),
    ("content-length-garbage", f"POST /x HTTP/1.1\r\n{HOST}Content-Length: abc\r\n\r\n", 400, E400, True),
    ("content-length-twice", f"POST /x HTTP/1.1\r\n{HOST}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400, E400, True),
    ("content-length-overflow", f"POST /x HTTP/1.1\r\n{HOST}Content-Length: 99999999999999999999\r\n\r\n", 400, E400, True),
    ("chunked-and-content-length",
     f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, E400, True),
    ("chunked-twice",
     f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, E400, True),
    ("chunked-on-http10", f"POST /x HTTP/1.0\r\n{HOST}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, E400, True),
    ("chunk-size-garbage", f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400, E400, False),
    ("chunk-size-overflow",
     f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400, E400, False),
    ("chunk-data-overrun",
     f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\n\r\n1\r\nxy0\r\n\r\n", 400, E400, False),
    # too large
    ("header-line-too-large", f"GET / HTTP/1.1\r\n{HOST}X-A: {LONG}\r\n\r\n", 400, E494, True),
    ("cookie-too-large", f"GET / HTTP/1.1\r\n{HOST}Cookie: {LONG}\r\n\r\n", 400, E494, True),
    ("headers-too-large-in-all",
     f"GET / HTTP/1.1\r\n{HOST}" + "".join(f"X-{i}: {'a' * 7000}\r\n" for i in range(6)) + "\r\n", 400, E494, True),
    ("uri-too-long", f"GET /{LONG} HTTP/1.1\r\n{HOST}\r\n", 414, "uri_too_long", True),
    ("body-over-64k-declared", f"POST /api/v1/orders HTTP/1.1\r\n{HOST}Content-Length: 70000\r\n\r\n",
     413, "payload_too_large", True),
    ("chunk-over-64k", f"POST /api/v1/orders HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\n\r\n10001\r\n" + "a" * 100,
     413, "payload_too_large", False),
    # methods nginx refuses itself
    ("trace", f"TRACE / HTTP/1.1\r\n{HOST}\r\n", 405, "method_not_allowed", False),
    ("connect-origin-form", f"CONNECT / HTTP/1.1\r\n{HOST}\r\n", 405, "method_not_allowed", False),
    # 501: a Transfer-Encoding other than exactly "chunked"
    ("te-gzip-post", f"POST /api/v1/orders HTTP/1.1\r\n{HOST}Transfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
     501, "not_implemented", True),
    ("te-gzip-get", f"GET /health HTTP/1.1\r\n{HOST}Transfer-Encoding: gzip\r\n\r\n", 501, "not_implemented", True),
    ("te-gzip-chunked", f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     501, "not_implemented", True),
    ("te-chunked-gzip", f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked, gzip\r\n\r\n", 501, "not_implemented", True),
    ("te-identity", f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding: identity\r\n\r\n", 501, "not_implemented", True),
    ("te-empty", f"POST /x HTTP/1.1\r\n{HOST}Transfer-Encoding:\r\n\r\n", 501, "not_implemented", True),
    # 505: HTTP major version above 1 (HTTP/1.2 is taken as 1.1)
    ("http-9.9", f"GET / HTTP/9.9\r\n{HOST}\r\n", 505, "http_version_not_supported", True),
    ("http-2.0-request-line", f"GET /health HTTP/2.0\r\n{HOST}\r\n", 505, "http_version_not_supported", True),
    ("http-1000.0", f"GET / HTTP/1000.0\r\n{HOST}\r\n", 505, "http_version_not_supported", True),
    ("http-9.9-post-body",
     f"POST /api/v1/orders HTTP/9.9\r\n{HOST}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
     505, "http_version_not_supported", True),
]


@pytest.mark.parametrize("request_text,status,code", [pytest.param(r, s, c, id=i) for i, r, s, c, _ in CASES])
def test_nginx_error_is_json(request_text, status, code):
    raw, _ = exchange(request_text.encode("latin-1"))
    assert_json_error(raw, status, code, what=request_text[:80])


@pytest.mark.parametrize("request_text,status,code",
                         [pytest.param(r, s, c, id=i) for i, r, s, c, head in CASES if head])
def test_nginx_error_to_head_has_headers_only(request_text, status, code):
    """HEAD gets the same status, Content-Type and Content-Length as GET, and not one body byte:
    nginx then closes the connection, or keeps it usable for the next request."""
    request = request_text.encode("latin-1")
    full, _ = exchange(request, head=False)
    assert_json_error(full, status, code, what=request_text[:80])
    raw, state = exchange(as_head(request), head=True)
    assert_json_error(raw, status, head=True, what="HEAD " + request_text[:80])
    assert raw.header("content-length") == str(len(full.body)), (raw, full)
    assert state in ("closed", "open"), f"bytes after a HEAD answer ({state}): {raw!r}"


def test_internal_error_locations_are_404_for_clients():
    pages = _error_pages(LOCATIONS_CONF.read_text())
    for uri in sorted(set(pages.values())):
        raw, _ = exchange(f"GET {uri} HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n".encode())
        assert_json_error(raw, 404, "not_found", what=uri)
        raw, _ = exchange(f"POST {uri} HTTP/1.1\r\n{HOST}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}".encode())
        assert_json_error(raw, 404, "not_found", what="POST " + uri)


def test_head_error_on_a_kept_alive_connection_leaves_it_usable():
    """A HEAD to an nginx error that keeps the connection (404 here), then a GET on the same
    connection: the GET's answer starts right after the HEAD's headers."""
    host, port = _stack_address()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"HEAD {ERROR_PREFIX}404 HTTP/1.1\r\n{HOST}\r\n".encode())
        raw, rest = read_answer(sock, head=True)
        assert_json_error(raw, 404, head=True, what="HEAD internal location")
        assert (raw.header("connection") or "").lower() == "keep-alive", raw
        assert connection_state(sock, rest, wait=0.5) == "open", raw
        sock.settimeout(10)
        sock.sendall(f"GET /health HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n".encode())
        nxt, _ = read_answer(sock, buf=rest)
        assert nxt.status_line.startswith(b"HTTP/1.1 200"), nxt
    # Pipelined: the HEAD and the GET in one write.
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"HEAD {ERROR_PREFIX}505 HTTP/1.1\r\n{HOST}\r\nGET /health HTTP/1.1\r\n{HOST}"
                     f"Connection: close\r\n\r\n".encode())
        raw, rest = read_answer(sock, head=True)
        assert_json_error(raw, 404, head=True, what="pipelined HEAD")
        nxt, _ = read_answer(sock, buf=rest)
        assert nxt.status_line.startswith(b"HTTP/1.1 200"), (raw, rest[:200], nxt)


def test_metrics_from_another_address_is_403_json():
    # 127.0.0.2 is a loopback address too, but not one that /metrics allows.
    request = f"GET /metrics HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n".encode()
    raw, _ = exchange(request, source="127.0.0.2")
    assert_json_error(raw, 403, "forbidden", what="/metrics from 127.0.0.2")
    full_length = raw.header("content-length")
    raw, state = exchange(as_head(request), source="127.0.0.2")
    assert_json_error(raw, 403, head=True, what="HEAD /metrics from 127.0.0.2")
    assert raw.header("content-length") == full_length and state == "closed", raw


def test_trace_405_carries_allow():
    raw, _ = exchange(f"TRACE /api/v1/products HTTP/1.1\r\n{HOST}\r\n".encode())
    assert_json_error(raw, 405, "method_not_allowed")
    assert raw.header("allow") == "GET, HEAD, POST, PUT, DELETE", raw


def test_http09_errors_are_a_bare_json_body():
    # HTTP/0.9 has no status line and no headers: the answer is the body alone, then the close.
    for request, code in ((f"GET {ERROR_PREFIX}400\r\n", "not_found"), ("POST /api/v1/orders\r\n", E400),
                          ("HEAD /health\r\n", E400)):
        raw, _ = exchange(request.encode(), head=False)
        assert raw.http09 and raw.closed, (request, raw)
        assert_error_body(raw.body, code, what=request)


@pytest.mark.parametrize("headers", [
    pytest.param("Range: bytes=999999-\r\n", id="range-beyond-end"),
    pytest.param("Range: bytes=5-1\r\n", id="range-backwards"),
    pytest.param("If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n", id="if-unmodified-since"),
    pytest.param('If-Match: "no-such-etag"\r\n', id="if-match"),
    pytest.param("If-None-Match: *\r\n", id="if-none-match"),
    pytest.param("Expect: 999-bogus\r\n", id="expect-unknown"),
    pytest.param("Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
                 id="h2c-upgrade"),
])
def test_headers_nginx_could_refuse_reach_the_backend(headers):
    """416, 412, 304 and 417 are not nginx's to send here: the backend's answer comes through."""
    raw, _ = exchange(f"GET /health HTTP/1.1\r\n{HOST}{headers}Connection: close\r\n\r\n".encode())
    assert raw.status == 200, raw
    assert json.loads(raw.body)["status"] == "healthy", raw


def test_body_without_length_is_not_411():
    # A POST with neither Content-Length nor Transfer-Encoding has an empty body: the backend answers.
    raw, _ = exchange(f"POST /api/v1/auth/login HTTP/1.1\r\n{HOST}Content-Type: application/json\r\n"
                      f"Connection: close\r\n\r\n".encode())
    assert raw.status != 411 and raw.status < 500, raw
    assert_json_error(raw, raw.status, what="POST without a length")


# ---------------------------------------------------------------- private nginx instances


def render_site(listen: str, upstream_server: str, log_dir: Path) -> str:
    """nginx/stockroom.site.conf rendered as scripts/install.sh renders it, with the snippets and
    the spec from the repository and the logs in log_dir."""
    text = SITE_CONF.read_text()
    text = text.replace("@UPSTREAM_SERVERS@", upstream_server)
    text = text.replace("@LISTEN@", listen).replace("@SERVER_NAME@", "_")
    for installed, repo_file in (("/etc/nginx/snippets/stockroom-locations.conf", LOCATIONS_CONF),
                                 ("/etc/nginx/snippets/stockroom-http.conf", HTTP_CONF),
                                 ("/usr/share/stockroom/openapi.yaml", OPENAPI_FILE)):
        assert installed in text, f"{SITE_CONF.name} no longer names {installed}: update this test"
        text = text.replace(installed, str(repo_file))
    text = re.sub(r"(access_log|error_log)\s+/var/log/nginx/", lambda m: f"{m.group(1)} {log_dir}/", text)
    assert not re.search(r"@[A-Z_]+@", text), text
    return text


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The production site file (upstream: a socket nobody listens on), plus servers that include
    the same snippet to reach the statuses the real stack cannot show on demand: 500 (a request
    body that cannot be written), 503 (a rate limit), 400/497 (plain HTTP on a TLS port); and a
    port where another server is the default, to show where early errors go then."""
    d = tmp_path_factory.mktemp("nginx-errors-site")
    ports = {name: free_port() for name in ("site", "fail", "limit", "tls", "shared")}
    body_temp = d / "body_temp_500"
    body_temp.mkdir()
    cert, key = d / "cert.pem", d / "key.pem"
    tls = shutil.which("openssl") is not None
    if tls:
        out = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                              "-days", "2", "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True)
        tls = out.returncode == 0
    tls_server = f"""
    server {{
        listen 127.0.0.1:{ports['tls']} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        include {LOCATIONS_CONF};
    }}""" if tls else ""
    block = render_site(f"127.0.0.1:{ports['site']}", f"server unix:{d}/nobody-listens.sock;", d) + f"""
    limit_req_zone $binary_remote_addr zone=nginx_errors_test:1m rate=1r/m;

    # 500: every request body goes to a temp file, in a directory that is turned into a file.
    server {{
        listen 127.0.0.1:{ports['fail']};
        server_name localhost;
        client_body_in_file_only on;
        client_body_temp_path {body_temp};
        include {LOCATIONS_CONF};
    }}
    # 503: one request a minute.
    server {{
        listen 127.0.0.1:{ports['limit']};
        server_name localhost;
        limit_req zone=nginx_errors_test;
        include {LOCATIONS_CONF};
    }}
    {tls_server}
    # Another site is the default server of this port; Stockroom answers only for its name.
    server {{
        listen 127.0.0.1:{ports['shared']} default_server;
        server_name _;
        default_type text/plain;
        return 404 'another site\\n';
    }}
    server {{
        listen 127.0.0.1:{ports['shared']};
        server_name localhost;
        include {LOCATIONS_CONF};
    }}
"""
    nginx = PrivateNginx(d, block, list(ports.values()))
    # nginx made the directory at start; a file in its place makes every temp file fail (ENOTDIR).
    body_temp.rmdir()
    body_temp.write_text("not a directory\n")
    try:
        yield {"ports": ports, "tls": tls, "dir": d}
    finally:
        nginx.stop()


SITE_EARLY = [
    ("http-9.9", f"GET / HTTP/9.9\r\n{HOST}\r\n", 505, "http_version_not_supported"),
    ("te-gzip", f"POST /api/v1/orders HTTP/1.1\r\n{HOST}Transfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
    ("method-bad-char", f"G@T / HTTP/1.1\r\n{HOST}\r\n", 400, E400),
    ("host-missing", "GET / HTTP/1.1\r\n\r\n", 400, E400),
    ("host-duplicate", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, E400),
    ("host-other-name", "GET /health HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n", 502, "bad_gateway"),
    ("uri-too-long", f"GET /{LONG} HTTP/1.1\r\n{HOST}\r\n", 414, "uri_too_long"),
    ("header-too-large", f"GET / HTTP/1.1\r\n{HOST}X-A: {LONG}\r\n\r\n", 400, E494),
    ("body-over-64k", f"POST / HTTP/1.1\r\n{HOST}Content-Length: 70000\r\n\r\n", 413, "payload_too_large"),
    ("trace", f"TRACE / HTTP/1.1\r\n{HOST}\r\n", 405, "method_not_allowed"),
    ("no-responder", f"GET /health HTTP/1.1\r\n{HOST}\r\n", 502, "bad_gateway"),
]


@pytest.mark.parametrize("request_text,status,code", [pytest.param(r, s, c, id=i) for i, r, s, c in SITE_EARLY])
def test_production_site_errors_are_json(site, request_text, status, code):
    address = ("127.0.0.1", site["ports"]["site"])
    request = request_text.encode("latin-1")
    raw, _ = exchange(request, address=address)
    assert_json_error(raw, status, code, what="site: " + request_text[:80])
    if not request.startswith((b"TRACE", b"G@T")):
        head, state = exchange(as_head(request), address=address, head=True)
        assert_json_error(head, status, head=True, what="site HEAD: " + request_text[:80])
        assert head.header("content-length") == str(len(raw.body)) and state in ("closed", "open"), head


def test_production_site_serves_the_spec_and_logs_request_ids(site):
    """Issue 12, production: the spec at /api/v1/openapi.yaml; the access log in the `stockroom`
    format names the request id, the responder tried and its time."""
    address = ("127.0.0.1", site["ports"]["site"])
    raw, _ = exchange(f"GET /api/v1/openapi.yaml HTTP/1.1\r\n{HOST}X-Request-Id: site-spec-1\r\n"
                      f"Connection: close\r\n\r\n".encode(), address=address)
    assert raw.status == 200 and (raw.header("content-type") or "").startswith("application/yaml"), raw
    assert raw.body == OPENAPI_FILE.read_bytes() and raw.header("x-request-id") == "site-spec-1", raw
    raw, _ = exchange(f"GET /health HTTP/1.1\r\n{HOST}X-Request-Id: site-health-1\r\nConnection: close\r\n\r\n"
                      .encode(), address=address)
    assert_json_error(raw, 502, "bad_gateway", what="site, no responder")
    assert raw.header("x-request-id") == "site-health-1", raw
    log = site["dir"] / "stockroom.access.log"
    deadline = time.monotonic() + 5
    while not re.search(r' ua="unix:[^"]*nobody-listens\.sock" id=site-health-1$', log.read_text(), re.M):
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.05)
    assert re.search(r'"GET /api/v1/openapi\.yaml HTTP/1\.1" 200 .* id=site-spec-1$', log.read_text(), re.M)


def test_nginx_failure_is_500_json(site):
    address = ("127.0.0.1", site["ports"]["fail"])
    body = b'{"username": "x", "password": "y"}'
    request = (f"POST /api/v1/auth/login HTTP/1.1\r\n{HOST}Content-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    raw, _ = exchange(request, address=address)
    assert_json_error(raw, 500, "internal_error", what="body temp file cannot be created")
    head, state = exchange(as_head(request), address=address, head=True)
    assert_json_error(head, 500, head=True, what="HEAD, body temp file cannot be created")
    assert head.header("content-length") == str(len(raw.body)) and state in ("closed", "open"), head


def test_rate_limited_is_503_json(site):
    address = ("127.0.0.1", site["ports"]["limit"])
    request = f"GET /health HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n".encode()
    first, _ = exchange(request, address=address)
    assert_json_error(first, 502, "bad_gateway", what="first request (no responder behind)")
    raw, _ = exchange(request, address=address)
    assert_json_error(raw, 503, "service_unavailable", what="second request within the minute")
    head, state = exchange(as_head(request), address=address, head=True)
    assert_json_error(head, 503, head=True, what="HEAD, rate limited")
    assert head.header("content-length") == str(len(raw.body)), head


def test_plain_http_on_tls_port_is_400_json(site):
    if not site["tls"]:
        pytest.skip("openssl could not make a certificate")
    address = ("127.0.0.1", site["ports"]["tls"])
    request = f"GET /health HTTP/1.1\r\n{HOST}\r\n".encode()
    raw, _ = exchange(request, address=address)
    assert_json_error(raw, 400, "https_required", what="plain HTTP to the TLS port")
    head, state = exchange(as_head(request), address=address, head=True)
    assert_json_error(head, 400, head=True, what="HEAD, plain HTTP to the TLS port")
    # Over TLS the same early errors as on the plain port.
    for text, status, code in ((f"GET / HTTP/9.9\r\n{HOST}\r\n", 505, "http_version_not_supported"),
                               (f"POST / HTTP/1.1\r\n{HOST}Transfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
                               (f"G@T / HTTP/1.1\r\n{HOST}\r\n", 400, E400)):
        raw, _ = exchange(text.encode(), address=address, tls=True)
        assert_json_error(raw, status, code, what="TLS: " + text[:60])


def test_early_errors_belong_to_the_default_server(site):
    """Why Stockroom's server must be the default server of its address (only server, or
    `default_server`): errors met before the Host is known are answered by the default server.
    With another site as the default, those are that site's answers, not Stockroom's."""
    address = ("127.0.0.1", site["ports"]["shared"])
    raw, _ = exchange(f"GET / HTTP/9.9\r\n{HOST}\r\n".encode(), address=address)
    assert raw.status == 505 and "json" not in (raw.header("content-type") or ""), raw
    raw, _ = exchange(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", address=address)
    assert raw.status == 400 and "json" not in (raw.header("content-type") or ""), raw
    # Errors after the Host is known are Stockroom's own again.
    raw, _ = exchange(f"POST / HTTP/1.1\r\n{HOST}Transfer-Encoding: gzip\r\n\r\n".encode(), address=address)
    assert_json_error(raw, 501, "not_implemented", what="shared port, Host known")
    observe("nginx early errors (request line, 414, 505, bad Host) on a port whose default server is another "
            "site get that site's pages: Stockroom's server must be the default server of its address")


@pytest.fixture
def blackhole():
    """A TCP listener whose accept queue is full and never drained: connects to it time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        full = False
    except OSError:
        full = True
    finally:
        probe.close()
    try:
        if not full:
            pytest.skip("could not fill a listener's accept queue here")
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_responder_timeout_is_504_json(tmp_path, blackhole):
    # fastcgi_connect_timeout is 2 s in the snippet; the SYN to the full queue is never answered.
    port = free_port()
    block = f"""
    {stockroom_server_lines("http")}
    upstream stockroom_fcgi {{
        server 127.0.0.1:{blackhole} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        {stockroom_server_lines("server")}
    }}
"""
    nginx = PrivateNginx(tmp_path, block, [port])
    try:
        request = f"GET /health HTTP/1.1\r\n{HOST}\r\n".encode()
        t = time.monotonic()
        raw, _ = exchange(request, address=("127.0.0.1", port), timeout=15)
        elapsed = time.monotonic() - t
        assert_json_error(raw, 504, "gateway_timeout", what="responder does not accept")
        assert 1.5 <= elapsed <= 10, elapsed
        head, state = exchange(as_head(request), address=("127.0.0.1", port), head=True, timeout=15)
        assert_json_error(head, 504, head=True, what="HEAD, responder does not accept")
        assert head.header("content-length") == str(len(raw.body)) and state in ("closed", "open"), head
        body = b'{"items": []}'
        raw, _ = exchange(f"POST /api/v1/orders HTTP/1.1\r\n{HOST}Content-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body, address=("127.0.0.1", port),
                          timeout=15)
        assert_json_error(raw, 504, "gateway_timeout", what="POST, responder does not accept")
    finally:
        nginx.stop()


def test_install_disables_debians_default_site(tmp_path):
    """Debian's placeholder site would be the default server on port 80 and answer nginx's early
    errors with HTML: a staged `make install` removes its link, unless told to keep it."""
    repo = Path(__file__).resolve().parents[2]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("stockroom-fcgi", "stockroom-worker", "stockroomctl"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    for keep, kept in (("0", False), ("1", True)):
        root = tmp_path / f"root-{keep}"
        enabled = root / "etc" / "nginx" / "sites-enabled"
        enabled.mkdir(parents=True)
        (enabled / "default").symlink_to("/etc/nginx/sites-available/default")
        proc = subprocess.run(["bash", str(repo / "scripts" / "install.sh")], text=True, capture_output=True,
                              env={"PATH": os.environ["PATH"], "DESTDIR": str(root), "BIN_DIR": str(bin_dir),
                                   "NGINX_KEEP_DEFAULT_SITE": keep}, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (enabled / "default").is_symlink() == kept, proc.stdout + proc.stderr
        assert (enabled / "stockroom").is_symlink()
