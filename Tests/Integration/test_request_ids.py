"""Issue 12: request ids end to end.

nginx keeps a client's well-formed `X-Request-Id` (1..64 characters of A-Z a-z 0-9 . _ -) and
replaces any other with its own `$request_id` (32 hex digits), never refusing the request; the id
goes to the responder (REQUEST_ID), comes back as `X-Request-Id`, and names the request in
nginx's access log (`id=`) and in the responder's log lines (`request.id`). A well-formed W3C
`traceparent` reaches the responder's log lines too. nginx's own answers (405, 413, ...) carry
the id as well. (nginx/stockroom-http.conf and nginx/stockroom-locations.conf.)

The responder logs a failed login at info level with the request's metadata: that is the log line
these tests look for, so they need no debug logging.
"""

from __future__ import annotations

import re
import socket
import uuid

import pytest

from stockroom_kit.client import Api, assert_error
from stockroom_kit.stack import base_url, log_size, read_log_from, responder_indexes, stack_dir, wait_for

LOGIN = "/api/v1/auth/login"
NGINX_ID = re.compile(r"^[0-9a-f]{32}$")
TRACEPARENT = "00-{trace}-{parent}-01"


def _traceparent() -> str:
    return TRACEPARENT.format(trace=uuid.uuid4().hex, parent=uuid.uuid4().hex[:16])


class Logs:
    """The stack's access log and responder logs from the moment of creation on."""

    def __init__(self) -> None:
        self.access = stack_dir() / "nginx" / "access.log"
        self.responders = [stack_dir() / f"fcgi-{i}.log" for i in responder_indexes()]
        self.offsets = {path: log_size(path) for path in [self.access, *self.responders]}

    def _new(self, path) -> str:
        return read_log_from(path, self.offsets[path])

    def access_line(self, request_id: str) -> str | None:
        """The access log line whose id= is this one (waited for: nginx writes it after the answer)."""
        def find() -> str | None:
            lines = [line for line in self._new(self.access).splitlines() if line.endswith(f" id={request_id}")]
            return lines[0] if lines else None

        return wait_for(find, 5)

    def responder_lines(self, *needles: str) -> list[str]:
        """Responder log lines (new ones, of every responder) that contain every needle."""
        def find() -> list[str] | None:
            return [line for path in self.responders for line in self._new(path).splitlines()
                    if all(n in line for n in needles)] or None

        return wait_for(find, 5) or []


def _failed_login(api: Api, headers: dict[str, str]) -> tuple[str, str]:
    """A login that fails (401, logged at info as "login failed" with the user name); returns the
    user name and the X-Request-Id of the answer."""
    username = f"rid_{uuid.uuid4().hex[:12]}"
    r = api.post(LOGIN, json={"username": username, "password": "not-the-password"}, headers=headers)
    assert_error(r, 401, "invalid_credentials")
    return username, r.headers.get("X-Request-Id", "")


def test_client_request_id_comes_back_and_is_logged_by_nginx_and_the_responder(api):
    logs = Logs()
    client_id = f"client-{uuid.uuid4().hex[:16]}.retry_1"
    username, echoed = _failed_login(api, {"X-Request-Id": client_id})
    assert echoed == client_id
    line = logs.access_line(client_id)
    assert line and f'"POST {LOGIN} ' in line and " 401 " in line, line
    assert re.search(r' ua="unix:[^"]*fcgi-\d+\.sock"', line) and re.search(r" urt=\d+\.\d{3} ", line), (
        f"the access line names no responder and its time: {line}")
    found = logs.responder_lines("login failed", username)
    assert found and all(client_id in l for l in found), f"responder lines for {username}: {found}"


@pytest.mark.parametrize("value", [
    pytest.param("a", id="one-char"),
    pytest.param("A" * 64, id="64-chars"),
    pytest.param("0af76519-16cd-43dd-8448-eb211c80319c", id="uuid"),
    pytest.param("svc.checkout_retry-2", id="dots-underscores"),
])
def test_well_formed_request_ids_are_kept(api, value):
    r = api.get("/health/live", headers={"X-Request-Id": value})
    assert r.status_code == 200 and r.headers.get("X-Request-Id") == value, r.headers


@pytest.mark.parametrize("value", [
    pytest.param("", id="empty"),
    pytest.param("A" * 65, id="65-chars"),
    pytest.param("two words", id="space"),
    pytest.param("id;drop", id="semicolon"),
    pytest.param("../etc/passwd", id="slash"),
    pytest.param('quote"d', id="quote"),
    pytest.param("caf\u00e9", id="latin-1"),
    pytest.param("id=forged ua=x", id="log-injection"),
])
def test_ill_formed_request_id_is_replaced_not_refused(api, value):
    logs = Logs()
    username, echoed = _failed_login(api, {"X-Request-Id": value.encode("latin-1")})
    assert NGINX_ID.match(echoed) and echoed != value, f"sent {value!r}, got back {echoed!r}"
    assert logs.access_line(echoed), f"no access line with id={echoed}"
    found = logs.responder_lines("login failed", username)
    assert found and all(echoed in l for l in found), found


def test_no_request_id_gets_one_from_nginx(api):
    ids = {api.get("/health/live").headers.get("X-Request-Id") for _ in range(5)}
    assert len(ids) == 5 and all(i and NGINX_ID.match(i) for i in ids), ids


def test_traceparent_reaches_the_responder_log(api):
    logs = Logs()
    traceparent = _traceparent()
    username, request_id = _failed_login(api, {"traceparent": traceparent})
    found = logs.responder_lines("login failed", username)
    assert found and all(traceparent in l and request_id in l for l in found), found


@pytest.mark.parametrize("value", [
    pytest.param("00-" + "A" * 32 + "-" + "b" * 16 + "-01", id="uppercase"),
    pytest.param("00-" + "0" * 32 + "-" + "b" * 16 + "-01", id="zero-trace-id"),
    pytest.param("ff-" + "a" * 32 + "-" + "b" * 16 + "-01", id="version-ff"),
    pytest.param("00-" + "a" * 32 + "-" + "b" * 16, id="no-flags"),
    pytest.param("00-" + "a" * 32 + "-" + "b" * 16 + "-01 injected=1", id="trailing"),
])
def test_ill_formed_traceparent_is_left_out(api, value):
    logs = Logs()
    username, _ = _failed_login(api, {"traceparent": value})
    found = logs.responder_lines("login failed", username)
    assert found and not any("traceparent" in l or value in l for l in found), found


# ---------------------------------------------------------------- nginx's own answers


def _raw(request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (the request says Connection: close); status, headers
    (lower-case names), body."""
    m = re.match(r"^http://([^:/]+):(\d+)$", base_url())
    assert m, base_url()
    with socket.create_connection((m.group(1), int(m.group(2))), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


NGINX_ANSWERS = [
    pytest.param("TRACE /api/v1/products HTTP/1.1\r\nHost: localhost\r\n{id}Connection: close\r\n\r\n",
                 405, "method_not_allowed", id="405-trace"),
    pytest.param("POST /api/v1/orders HTTP/1.1\r\nHost: localhost\r\n{id}Content-Type: application/json\r\n"
                 "Content-Length: 70000\r\nConnection: close\r\n\r\n", 413, "payload_too_large", id="413"),
    pytest.param("GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: localhost\r\n{id}Transfer-Encoding: gzip\r\n"
                 "Connection: close\r\n\r\n", 501, "not_implemented", id="501"),
    pytest.param("GET /.stockroom/error/502 HTTP/1.1\r\nHost: localhost\r\n{id}Connection: close\r\n\r\n",
                 404, "not_found", id="404-internal-path"),
]


@pytest.mark.parametrize("request_text,status,code", NGINX_ANSWERS)
def test_nginx_own_errors_carry_the_client_request_id(request_text, status, code):
    logs = Logs()
    client_id = f"nginx-{uuid.uuid4().hex[:12]}"
    got, headers, body = _raw(request_text.format(id=f"X-Request-Id: {client_id}\r\n").encode())
    assert got == status and f'"code":"{code}"' in body.decode(), (got, headers, body[:200])
    assert headers.get("x-request-id") == client_id, headers
    assert logs.access_line(client_id), f"no access line with id={client_id}"


@pytest.mark.parametrize("request_text,status,code", NGINX_ANSWERS)
def test_nginx_own_errors_carry_a_generated_request_id(request_text, status, code):
    logs = Logs()
    got, headers, _ = _raw(request_text.format(id="X-Request-Id: not well formed\r\n").encode())
    assert got == status and NGINX_ID.match(headers.get("x-request-id", "")), (got, headers)
    assert logs.access_line(headers["x-request-id"])


def test_bad_request_line_carries_a_request_id():
    """Before nginx has read any header: its own id, in the JSON 400."""
    got, headers, body = _raw(b"G@T / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert got == 400 and b'"bad_request"' in body, (got, headers, body)
    assert NGINX_ID.match(headers.get("x-request-id", "")), headers
