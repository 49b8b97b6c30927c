"""The one FastCGI client of the suites: records for talking to a responder socket directly, and
for reading what nginx sends upstream. Only what the tests need; see the FastCGI 1.0 specification.

Low level (forged records, lengths and streams): fcgi_record, fcgi_pair(s), fcgi_stream,
fcgi_begin, fcgi_params, fcgi_request (the bytes of a whole request), fcgi_read_record,
fcgi_read_response. High level: fcgi_call, one request on a fresh connection to a responder's unix
socket, the way nginx sends it.
"""

from __future__ import annotations

import json
import socket
import uuid
from decimal import Decimal
from typing import Any, Callable

from .stack import REQUEST_TIMEOUT

FCGI_VERSION_1 = 1
FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11
FCGI_RESPONDER = 1
FCGI_KEEP_CONN = 1
FCGI_MAX_CONTENT = 0xFFFF


def fcgi_record(rtype: int, request_id: int, content: bytes = b"", padding: int | None = None,
                declared_length: int | None = None, version: int = FCGI_VERSION_1) -> bytes:
    """One record: 8-byte header, content, padding (to a multiple of 8 unless `padding` is given).
    `declared_length` puts another contentLength in the header than the content sent (truncation)."""
    length = len(content) if declared_length is None else declared_length
    if padding is None:
        padding = (-len(content)) % 8
    header = bytes([version, rtype, (request_id >> 8) & 0xFF, request_id & 0xFF,
                    (length >> 8) & 0xFF, length & 0xFF, padding, 0])
    return header + content + b"\x00" * padding


def fcgi_length(n: int) -> bytes:
    """A name-value pair length: one byte below 128, else four bytes with the high bit set."""
    if n < 0x80:
        return bytes([n])
    assert n <= 0x7FFFFFFF
    return (n | 0x80000000).to_bytes(4, "big")


def fcgi_pair(name: bytes, value: bytes, name_length: int | None = None, value_length: int | None = None) -> bytes:
    """A name-value pair; the lengths may be forged (they then disagree with the bytes that follow)."""
    nl = len(name) if name_length is None else name_length
    vl = len(value) if value_length is None else value_length
    return fcgi_length(nl) + fcgi_length(vl) + name + value


def fcgi_pairs(params: Any) -> bytes:
    items = params.items() if isinstance(params, dict) else params
    out = b""
    for name, value in items:
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        out += fcgi_pair(name, value)
    return out


def fcgi_stream(rtype: int, request_id: int, data: bytes, terminate: bool = True) -> bytes:
    """A stream (PARAMS, STDIN) as records of at most 65535 bytes, plus the empty closing record."""
    out = b""
    for start in range(0, len(data), FCGI_MAX_CONTENT):
        out += fcgi_record(rtype, request_id, data[start:start + FCGI_MAX_CONTENT])
    if terminate:
        out += fcgi_record(rtype, request_id)
    return out


def fcgi_begin(request_id: int = 1, role: int = FCGI_RESPONDER, keep_conn: bool = False) -> bytes:
    body = role.to_bytes(2, "big") + bytes([FCGI_KEEP_CONN if keep_conn else 0]) + b"\x00" * 5
    return fcgi_record(FCGI_BEGIN_REQUEST, request_id, body)


def fcgi_params(method: str, uri: str, *, content_type: str | None = None,
                content_length: str | int | None = None, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The parameters nginx would send for a request (the subset the responder reads, and a few more)."""
    path, _, query = uri.partition("?")
    params = {
        "REQUEST_METHOD": method,
        "REQUEST_URI": uri,
        "DOCUMENT_URI": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_NAME": "localhost",
        "HTTP_HOST": "localhost",
        "REQUEST_ID": uuid.uuid4().hex,
    }
    if content_type is not None:
        params["CONTENT_TYPE"] = content_type
    if content_length is not None:
        params["CONTENT_LENGTH"] = str(content_length)
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    return params


def fcgi_request(params: Any, stdin: bytes = b"", request_id: int = 1, keep_conn: bool = False) -> bytes:
    """A complete responder request: BEGIN_REQUEST, PARAMS stream, STDIN stream."""
    return (fcgi_begin(request_id, keep_conn=keep_conn) + fcgi_stream(FCGI_PARAMS, request_id, fcgi_pairs(params))
            + fcgi_stream(FCGI_STDIN, request_id, stdin))


class FcgiRecord:
    def __init__(self, rtype: int, request_id: int, content: bytes):
        self.type = rtype
        self.request_id = request_id
        self.content = content

    def __repr__(self) -> str:
        return f"FcgiRecord(type={self.type}, id={self.request_id}, content={self.content[:80]!r})"


class FcgiTruncated(Exception):
    """The peer closed the connection in the middle of a record."""


def recv_exact(sock: Any, n: int) -> bytes:
    """Up to n bytes: fewer only when the peer closed the connection (or reset it)."""
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def fcgi_read_record(sock: Any) -> FcgiRecord | None:
    """The next record, or None when the connection is closed at a record boundary."""
    header = recv_exact(sock, 8)
    if not header:
        return None
    if len(header) < 8:
        raise FcgiTruncated(f"closed after {len(header)} header bytes")
    length = (header[4] << 8) | header[5]
    body = recv_exact(sock, length + header[6])
    if len(body) < length + header[6]:
        raise FcgiTruncated(f"closed after {len(body)} of {length + header[6]} content bytes")
    return FcgiRecord(header[1], (header[2] << 8) | header[3], body[:length])


def fcgi_decode_pairs(content: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    i = 0

    def length() -> int:
        nonlocal i
        if content[i] < 0x80:
            i += 1
            return content[i - 1]
        n = int.from_bytes(content[i:i + 4], "big") & 0x7FFFFFFF
        i += 4
        return n

    while i < len(content):
        nl = length()
        vl = length()
        pairs.append((content[i:i + nl], content[i + nl:i + nl + vl]))
        i += nl + vl
    return pairs



class FcgiResponse:
    """What came back for one request: the CGI response parsed from STDOUT, plus every record."""

    def __init__(self) -> None:
        self.records: list[FcgiRecord] = []
        self.stdout = b""
        self.stderr = b""
        self.ended = False
        self.app_status: int | None = None
        self.protocol_status: int | None = None
        self.closed = False

    @property
    def status(self) -> int | None:
        head = self.stdout.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"status:"):
                return int(line.split(b":", 1)[1].split()[0])
        return 200 if head else None

    @property
    def headers(self) -> dict[str, str]:
        head = self.stdout.split(b"\r\n\r\n", 1)[0]
        out = {}
        for line in head.split(b"\r\n")[1:] if head.lower().startswith(b"status:") else head.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            out[name.strip().lower()] = value.strip()
        return out

    @property
    def body(self) -> bytes:
        return self.stdout.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.stdout else b""

    def json(self) -> Any:
        """The body as JSON, floats parsed as Decimal (exact money checks)."""
        return json.loads(self.body.decode("utf-8"), parse_float=Decimal)

    def __repr__(self) -> str:
        return (f"FcgiResponse(status={self.status}, ended={self.ended}, closed={self.closed}, "
                f"protocol_status={self.protocol_status}, stdout={self.stdout[:300]!r}, "
                f"records={[(r.type, r.request_id) for r in self.records]})")


def fcgi_read_response(sock: Any, request_id: int = 1) -> FcgiResponse:
    """Records until END_REQUEST for request_id, or until the peer closes the connection."""
    response = FcgiResponse()
    while True:
        try:
            record = fcgi_read_record(sock)
        except FcgiTruncated:
            response.closed = True
            return response
        if record is None:
            response.closed = True
            return response
        response.records.append(record)
        if record.request_id != request_id:
            continue
        if record.type == FCGI_STDOUT:
            response.stdout += record.content
        elif record.type == FCGI_STDERR:
            response.stderr += record.content
        elif record.type == FCGI_END_REQUEST:
            response.ended = True
            response.app_status = int.from_bytes(record.content[:4], "big")
            response.protocol_status = record.content[4] if len(record.content) > 4 else None
            return response


class FcgiConnectionClosed(Exception):
    """The responder closed the connection before FCGI_END_REQUEST (it died)."""


def fcgi_call(
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
    """One request on a fresh connection to a responder's unix socket, the way nginx sends it;
    `on_sent` is called once the whole request is written. Raises FcgiConnectionClosed when the
    responder closes the connection before FCGI_END_REQUEST, OSError when it cannot be reached or
    does not answer within `timeout`."""
    params = fcgi_params(method, uri, content_type=content_type,
                         content_length=len(body) if body else None, headers=headers)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(fcgi_request(params, body))
        if on_sent:
            on_sent()
        response = fcgi_read_response(sock)
    finally:
        sock.close()
    if not response.ended:
        raise FcgiConnectionClosed(f"connection closed before FCGI_END_REQUEST: {response!r}")
    return response
