"""Shared fixtures and helpers for the Stockroom integration tests.

The suite talks to a running stack through nginx. The harness
(scripts/integration-test.sh) starts a private stack and sets:

    STOCKROOM_URL        base URL of nginx, e.g. http://127.0.0.1:18081
    STOCKROOM_STACK_DIR  the stack dir (mariadb.pid, fcgi-N.pid, supervisor-N.pid, env)
    STOCKROOM_CTL        executable running `stockroomctl` against the stack's database
    STOCKROOM_STACK      executable running the dev stack script for this stack (`up`)

Only the standard library, `requests` and `pytest` are used.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

TIMEOUT = 10  # seconds, for every HTTP request
PASSWORD = "correct-horse-9"
ERROR_EXTRA_KEYS = {"field", "product_id", "available"}
PRODUCT_KEYS = {"id", "name", "price", "stock", "created_at", "updated_at"}
USER_KEYS = {"id", "username", "role", "created_at"}

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)$"
)

_NOTHING = object()


# --------------------------------------------------------------------------
# Environment


def base_url() -> str:
    return os.environ.get("STOCKROOM_URL", "http://127.0.0.1:8080").rstrip("/")


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run the suite through scripts/integration-test.sh")
    return value


# --------------------------------------------------------------------------
# HTTP client


class Api:
    """A thin client bound to the stack's base URL; one keep-alive connection pool.

    `json=` sends a JSON body with Content-Type application/json; `data=` sends
    raw bytes/str with whatever headers are given. `token=` adds a Bearer header.
    Every request has a timeout.
    """

    def __init__(self, url: str | None = None, token: str | None = None):
        self.url = url or base_url()
        self.token = token
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _NOTHING,
        data: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        timeout: float = TIMEOUT,
    ) -> requests.Response:
        hdrs: dict[str, str] = {}
        bearer = token if token is not None else self.token
        if bearer is not None:
            hdrs["Authorization"] = f"Bearer {bearer}"
        if json is not _NOTHING:
            data = _json_dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        return self.session.request(
            method,
            self.url + path,
            data=data,
            headers=hdrs,
            params=params,
            timeout=timeout,
            allow_redirects=False,
        )

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)


def _json_dumps(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            # Emitted as a bare number literal (see RawNumber below).
            return RawNumber(str(o))
        raise TypeError(type(o))

    text = json.dumps(value, ensure_ascii=False, default=default)
    # RawNumber values are encoded as '"\x00num:...\x00"' placeholders; unquote them.
    return re.sub(r'"\\u0000num:([^"\\]*)\\u0000"', r"\1", text)


class RawNumber(str):
    """A number literal sent verbatim, e.g. RawNumber("100000000.00")."""

    def __new__(cls, literal: str) -> "RawNumber":
        obj = str.__new__(cls, "\x00num:" + literal + "\x00")
        obj.literal = literal
        return obj

    def __repr__(self) -> str:
        return self.literal


def param_id(value: Any) -> str:
    """Readable pytest ids for parametrized bodies and values."""
    if isinstance(value, RawNumber):
        return value.literal
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------
# Response helpers


def describe(r: requests.Response) -> str:
    return (
        f"{r.request.method} {r.request.url} -> {r.status_code}\n"
        f"headers: {dict(r.headers)}\nbody: {r.content[:600]!r}"
    )


def jbody(r: requests.Response) -> Any:
    """The JSON body, UTF-8 decoded, with floats parsed as Decimal (exact money checks)."""
    try:
        return json.loads(r.content.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:  # pragma: no cover - diagnostic
        pytest.fail(f"response is not UTF-8 JSON ({exc}): {describe(r)}")


def assert_json_content_type(r: requests.Response) -> None:
    ctype = r.headers.get("Content-Type", "")
    media = ctype.split(";")[0].strip().lower()
    assert media == "application/json", f"Content-Type {ctype!r}: {describe(r)}"


def assert_status(r: requests.Response, status: int) -> Any:
    """Assert the status and (for bodies) the JSON content type; return the parsed body."""
    assert r.status_code == status, describe(r)
    if status == 204:
        assert r.content == b"", describe(r)
        return None
    assert_json_content_type(r)
    return jbody(r)


ANY_FIELD = object()


def assert_error(
    r: requests.Response, status: int, code: str | set[str], field: Any = None
) -> dict[str, Any]:
    """Exact error shape: {"error": {"code": str, "message": str, [field|product_id|available]}}.

    `code` may be a set of accepted codes. `field` is the expected value of
    error.field, or ANY_FIELD to require a string field of any value.
    """
    assert r.status_code == status, describe(r)
    assert_json_content_type(r)
    body = jbody(r)
    assert isinstance(body, dict) and set(body) == {"error"}, describe(r)
    err = body["error"]
    assert isinstance(err, dict), describe(r)
    assert isinstance(err.get("code"), str), describe(r)
    assert isinstance(err.get("message"), str) and err["message"].strip(), describe(r)
    extra = set(err) - {"code", "message"}
    assert extra <= ERROR_EXTRA_KEYS, f"unexpected keys {extra}: {describe(r)}"
    if isinstance(code, set):
        assert err["code"] in code, describe(r)
    else:
        assert err["code"] == code, describe(r)
    if field is ANY_FIELD:
        assert isinstance(err.get("field"), str) and err["field"], describe(r)
    elif field is not None:
        assert err.get("field") == field, describe(r)
    return err


def assert_unauthorized(r: requests.Response) -> None:
    assert_error(r, 401, "unauthorized")
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.split(" ")[0].split(",")[0].lower() == "bearer", describe(r)


def parse_ts(value: Any) -> dt.datetime:
    assert isinstance(value, str) and _RFC3339.match(value), f"not an RFC 3339 UTC timestamp: {value!r}"
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_recent(value: Any, slack: float = 300) -> dt.datetime:
    ts = parse_ts(value)
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - ts).total_seconds()) < slack, f"{value} is not close to now ({now.isoformat()})"
    return ts


def assert_money(value: Any) -> Decimal:
    """A JSON number (not a string, not a bool) with at most two decimals."""
    assert isinstance(value, (int, Decimal)) and not isinstance(value, bool), f"price {value!r} is not a JSON number"
    d = Decimal(value)
    assert d == d.quantize(Decimal("0.01")), f"price {value!r} has more than two decimals"
    return d


def assert_product(p: Any) -> dict[str, Any]:
    assert isinstance(p, dict) and set(p) == PRODUCT_KEYS, f"product shape: {p!r}"
    assert isinstance(p["id"], int) and not isinstance(p["id"], bool) and p["id"] > 0, p
    assert isinstance(p["name"], str) and p["name"], p
    assert_money(p["price"])
    assert isinstance(p["stock"], int) and not isinstance(p["stock"], bool) and p["stock"] >= 0, p
    created = parse_ts(p["created_at"])
    updated = parse_ts(p["updated_at"])
    assert updated >= created, p
    return p


def assert_user(u: Any) -> dict[str, Any]:
    assert isinstance(u, dict) and set(u) == USER_KEYS, f"user shape: {u!r}"
    assert isinstance(u["id"], int) and not isinstance(u["id"], bool) and u["id"] > 0, u
    assert isinstance(u["username"], str), u
    assert u["role"] in ("customer", "admin"), u
    parse_ts(u["created_at"])
    return u


def unique_name(prefix: str = "u") -> str:
    """A fresh username-safe name (<= 32 chars of [A-Za-z0-9_.-])."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"[:32]


# --------------------------------------------------------------------------
# Users, sessions, admins


def register(api: Api, username: str, password: str = PASSWORD) -> requests.Response:
    return api.post("/api/v1/auth/register", json={"username": username, "password": password})


def login(api: Api, username: str, password: str = PASSWORD) -> requests.Response:
    return api.post("/api/v1/auth/login", json={"username": username, "password": password})


def login_token(api: Api, username: str, password: str = PASSWORD) -> str:
    body = assert_status(login(api, username, password), 200)
    return body["token"]


def run_ctl(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    ctl = required_env("STOCKROOM_CTL")
    return subprocess.run(
        shlex.split(ctl) + list(args),
        input=stdin,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def create_admin(username: str, password: str = PASSWORD) -> None:
    proc = run_ctl("create-admin", username, stdin=password + "\n")
    assert proc.returncode == 0, (
        f"stockroomctl create-admin {username} failed ({proc.returncode}):\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    )


# --------------------------------------------------------------------------
# Stack helpers


def stack_dir() -> Path:
    return Path(required_env("STOCKROOM_STACK_DIR"))


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def proc_comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        # ProcessLookupError (ESRCH): the process was reaped between open and read.
        return False


def run_stack(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    stack = required_env("STOCKROOM_STACK")
    return subprocess.run(
        shlex.split(stack) + list(args), text=True, capture_output=True, timeout=timeout
    )


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def url() -> str:
    return base_url()


@pytest.fixture
def api(url: str):
    client = Api(url)
    yield client
    client.close()


@pytest.fixture
def make_api(url: str):
    """Factory for independent clients (one per thread in the concurrency tests)."""
    clients: list[Api] = []

    def factory(token: str | None = None) -> Api:
        client = Api(url, token)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def unique() -> Callable[..., str]:
    return unique_name


@pytest.fixture
def new_user(url: str):
    """Factory: register a fresh customer, log in; returns dict(username, password, user, token)."""
    client = Api(url)

    def factory(prefix: str = "u", password: str = PASSWORD, with_token: bool = True) -> dict[str, Any]:
        username = unique_name(prefix)
        user = assert_status(register(client, username, password), 201)
        token = login_token(client, username, password) if with_token else None
        return {"username": username, "password": password, "user": user, "token": token}

    yield factory
    client.close()


@pytest.fixture(scope="session")
def customer(url: str) -> dict[str, Any]:
    client = Api(url)
    username = unique_name("cust")
    user = assert_status(register(client, username), 201)
    token = login_token(client, username)
    client.close()
    return {"username": username, "password": PASSWORD, "user": user, "token": token}


@pytest.fixture(scope="session")
def customer_token(customer: dict[str, Any]) -> str:
    return customer["token"]


@pytest.fixture(scope="session")
def admin(url: str) -> dict[str, Any]:
    username = unique_name("adm")
    create_admin(username)
    client = Api(url)
    token = login_token(client, username)
    me = assert_status(client.get("/api/v1/users/me", token=token), 200)
    client.close()
    assert me["role"] == "admin", me
    return {"username": username, "password": PASSWORD, "user": me, "token": token}


@pytest.fixture(scope="session")
def admin_token(admin: dict[str, Any]) -> str:
    return admin["token"]


@pytest.fixture
def admin_api(url: str, admin_token: str):
    client = Api(url, admin_token)
    yield client
    client.close()


@pytest.fixture
def make_product(admin_api: Api):
    """Factory: create a product as admin; returns the parsed product."""

    def factory(name: str | None = None, price: Any = Decimal("9.99"), stock: int = 10) -> dict[str, Any]:
        body = {"name": name or unique_name("prod"), "price": price, "stock": stock}
        r = admin_api.post("/api/v1/products", json=body)
        return assert_product(assert_status(r, 201))

    return factory


# --------------------------------------------------------------------------
# Orders (issue 3): shapes, requests, polling, the stack's database

ORDERS = "/api/v1/orders"
ORDER_KEYS = {"id", "user_id", "status", "items", "total", "created_at", "updated_at"}
ORDER_ITEM_KEYS = {"product_id", "name", "quantity", "unit_price", "line_total"}
ORDER_STATUSES = ("pending", "processed", "cancelled")
MAX_ORDER_TOTAL = Decimal("9999999999.99")  # DECIMAL(12,2)


def order_path(order_id: Any) -> str:
    return f"{ORDERS}/{order_id}"


def cancel_path(order_id: Any) -> str:
    return f"{ORDERS}/{order_id}/cancel"


def order_body(*lines: tuple[int, int]) -> dict[str, Any]:
    """{"items": [...]} from (product_id, quantity) pairs, in the order given."""
    return {"items": [{"product_id": pid, "quantity": qty} for pid, qty in lines]}


def place_order(
    api: Api,
    body: Any,
    *,
    token: str | None = None,
    key: str | bytes | None = None,
    timeout: float = TIMEOUT,
) -> requests.Response:
    """POST /api/v1/orders with a JSON body and, when given, an Idempotency-Key header."""
    headers = {"Idempotency-Key": key} if key is not None else None
    return api.post(ORDERS, json=body, token=token, headers=headers, timeout=timeout)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def assert_order(o: Any, *, user_id: int | None = None, status: str | set[str] | None = None) -> dict[str, Any]:
    """Exact order shape; items in ascending product_id; line_total = unit_price x quantity; total = sum."""
    assert isinstance(o, dict) and set(o) == ORDER_KEYS, f"order shape: {o!r}"
    assert _is_int(o["id"]) and o["id"] > 0, o
    assert _is_int(o["user_id"]) and o["user_id"] > 0, o
    if user_id is not None:
        assert o["user_id"] == user_id, o
    assert o["status"] in ORDER_STATUSES, o
    if isinstance(status, set):
        assert o["status"] in status, o
    elif status is not None:
        assert o["status"] == status, o
    items = o["items"]
    assert isinstance(items, list) and 1 <= len(items) <= 50, o
    total = Decimal("0.00")
    for item in items:
        assert isinstance(item, dict) and set(item) == ORDER_ITEM_KEYS, f"order item shape: {item!r}"
        assert _is_int(item["product_id"]) and item["product_id"] > 0, item
        assert isinstance(item["name"], str) and item["name"], item
        assert _is_int(item["quantity"]) and 1 <= item["quantity"] <= 1000, item
        unit = assert_money(item["unit_price"])
        line = assert_money(item["line_total"])
        assert line == unit * item["quantity"], f"line_total {line} != {unit} x {item['quantity']}: {item}"
        total += line
    pids = [item["product_id"] for item in items]
    assert pids == sorted(set(pids)), f"items not in ascending, distinct product_id: {pids}"
    assert assert_money(o["total"]) == total, f"total {o['total']} != sum of lines {total}: {o}"
    created = parse_ts(o["created_at"])
    updated = parse_ts(o["updated_at"])
    assert updated >= created, o
    return o


def assert_same_order(later: dict[str, Any], first: dict[str, Any]) -> None:
    """`later` is `first` read again: identical, except that the worker may have moved it from
    pending to processed in between (which changes status and may bump updated_at)."""
    if later["status"] == first["status"]:
        assert later == first, f"{later!r}\n!=\n{first!r}"
        return
    assert first["status"] == "pending" and later["status"] == "processed", (later, first)
    strip = lambda o: {k: v for k, v in o.items() if k not in ("status", "updated_at")}  # noqa: E731
    assert strip(later) == strip(first), f"{later!r}\n!=\n{first!r}"
    assert parse_ts(later["updated_at"]) >= parse_ts(first["updated_at"])


def product_stock(api: Api, product_id: int) -> int:
    """Current stock of a live product (GET through nginx)."""
    return assert_status(api.get(f"/api/v1/products/{product_id}"), 200)["stock"]


def restock(api: Api, product_id: int, quantity: int, token: str | None = None) -> dict[str, Any]:
    r = api.post(f"/api/v1/products/{product_id}/restock", json={"quantity": quantity}, token=token)
    return assert_status(r, 200)


def wait_order_status(
    api: Api, order_id: int, status: str, token: str | None = None, timeout: float = 10
) -> dict[str, Any]:
    """Poll GET /api/v1/orders/{id} until it has `status` (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = assert_status(api.get(order_path(order_id), token=token), 200)
        if last.get("status") == status:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"order {order_id} not {status} after {timeout} s: {last!r}")
        time.sleep(0.1)


def list_all_orders(api: Api, token: str | None = None, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Every order the token may see with id > after, walking the keyset pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        body = assert_status(api.get(ORDERS, token=token, params={"limit": limit, "after": after}), 200)
        assert isinstance(body, dict) and set(body) == {"items", "next_after"}, body
        items.extend(body["items"])
        if body["next_after"] is None:
            return items
        assert body["next_after"] == body["items"][-1]["id"], body
        after = body["next_after"]
        pages += 1
        assert pages < 10_000


def stack_env() -> dict[str, str]:
    """The STOCKROOM_* variables of the stack, from the `export NAME=value` lines of $STACK_DIR/env."""
    env: dict[str, str] = {}
    for line in (stack_dir() / "env").read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        for word in shlex.split(line)[1:]:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def db_exec(sql: str, timeout: float = 30) -> str:
    """Run SQL on the stack's database with the `mariadb` client as the application user; stdout (-N -B)."""
    env = stack_env()
    args = ["mariadb", "--no-defaults", "-N", "-B"]
    if env.get("STOCKROOM_DB_SOCKET"):
        args += ["-S", env["STOCKROOM_DB_SOCKET"]]
    else:
        args += ["-h", env.get("STOCKROOM_DB_HOST", "localhost"), "-P", env.get("STOCKROOM_DB_PORT", "3306")]
    args += ["-u", env.get("STOCKROOM_DB_USER", "stockroom")]
    if env.get("STOCKROOM_DB_PASSWORD"):
        args.append("-p" + env["STOCKROOM_DB_PASSWORD"])
    args += [env.get("STOCKROOM_DB_NAME", "stockroom"), "-e", sql]
    proc = subprocess.run(args, text=True, capture_output=True, timeout=timeout)
    assert proc.returncode == 0, f"mariadb failed ({proc.returncode}) on {sql!r}:\n{proc.stderr}"
    return proc.stdout


def run_check() -> subprocess.CompletedProcess:
    """`stockroomctl check` against the stack's database."""
    return run_ctl("check", timeout=60)


def assert_check_clean() -> subprocess.CompletedProcess:
    proc = run_check()
    assert proc.returncode == 0 and re.search(r"check: \d+ products consistent", proc.stdout), (
        f"stockroomctl check ({proc.returncode}):\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    )
    return proc


# --------------------------------------------------------------------------
# Observations (issue 4): measured figures printed at the end of the run, even with -q


_OBSERVATIONS: list[str] = []


def observe(line: str) -> None:
    """Record a measured figure or an observed behaviour; printed in the terminal summary."""
    _OBSERVATIONS.append(line)


def pytest_terminal_summary(terminalreporter) -> None:
    if _OBSERVATIONS:
        terminalreporter.section("observations")
        for line in _OBSERVATIONS:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------
# FastCGI wire format (issue 4): records for talking to a responder socket directly, and for
# reading what nginx sends upstream. Only what the tests need; see the FastCGI 1.0 specification.

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
        return json.loads(self.body.decode("utf-8"))

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
