"""Contract: Conventions (error shape, 404/405/413/415/400, content types, path ids)."""

import uuid

import pytest

from stockroom_kit.client import (
    PASSWORD,
    assert_error,
    assert_json_content_type,
    assert_status,
    assert_user,
    describe,
    unique_name,
)

REGISTER = "/api/v1/auth/register"


def _allow(r):
    return {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}


# ---------------------------------------------------------------- 404 not_found


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/v1/no-such-thing-{tag}"),
        ("POST", "/api/v1/no-such-thing-{tag}"),
        ("DELETE", "/api/v1/no-such-thing-{tag}"),
        ("GET", "/no-such-top-level-{tag}"),
        ("GET", "/api/v2/products-{tag}"),
        ("GET", "/api/v1/products/1/no-such-{tag}"),
        ("GET", "/api/v1/users/{tag}"),
    ],
)
def test_unknown_path_is_404_not_found(api, method, path):
    tag = uuid.uuid4().hex
    r = api.request(method, path.format(tag=tag))
    assert_error(r, 404, "not_found")
    assert tag.encode() not in r.content, f"the error body echoes the path: {describe(r)}"


def test_404_body_does_not_echo_markup_in_path(api):
    tag = uuid.uuid4().hex
    r = api.get(f"/api/v1/<script>alert('{tag}')</script>")
    assert_error(r, 404, "not_found")
    assert tag.encode() not in r.content, describe(r)
    assert b"<script>" not in r.content.lower(), describe(r)


# ---------------------------------------------------------------- 405


@pytest.mark.parametrize(
    "method,path,expected",
    [
        ("DELETE", "/health", {"GET"}),
        ("POST", "/health/live", {"GET"}),
        ("PATCH", "/api/v1/products", {"GET", "POST"}),
        ("PUT", "/api/v1/products", {"GET", "POST"}),
        ("PATCH", "/api/v1/products/1", {"GET", "PUT", "DELETE"}),
        ("POST", "/api/v1/products/1", {"GET", "PUT", "DELETE"}),
        ("GET", "/api/v1/products/1/restock", {"POST"}),
        ("GET", "/api/v1/auth/login", {"POST"}),
        ("GET", "/api/v1/auth/register", {"POST"}),
        ("GET", "/api/v1/auth/logout", {"POST"}),
        ("DELETE", "/api/v1/users/me", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(api, method, path, expected):
    r = api.request(method, path)
    assert_error(r, 405, "method_not_allowed")
    allowed = _allow(r)
    assert expected <= allowed, f"Allow {allowed} lacks {expected}: {describe(r)}"
    assert method not in allowed, describe(r)


# ---------------------------------------------------------------- 415 and media types


def _register_raw(api, data, content_type=None):
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return api.post(REGISTER, data=data, headers=headers)


def _register_body(username):
    return ('{"username": "%s", "password": "%s"}' % (username, PASSWORD)).encode()


def test_text_plain_body_is_415(api):
    r = _register_raw(api, _register_body(unique_name()), "text/plain")
    assert_error(r, 415, "unsupported_media_type")


def test_form_body_is_415(api):
    r = _register_raw(api, b"username=abc&password=abcdefghij", "application/x-www-form-urlencoded")
    assert_error(r, 415, "unsupported_media_type")


def test_body_without_content_type_is_415(api):
    r = _register_raw(api, _register_body(unique_name()), None)
    assert "Content-Type" not in r.request.headers
    assert_error(r, 415, "unsupported_media_type")


def test_text_plain_on_admin_endpoint_is_415(admin_api):
    r = admin_api.post(
        "/api/v1/products",
        data=b'{"name": "x", "price": 1.00, "stock": 1}',
        headers={"Content-Type": "text/plain"},
    )
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "ctype",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"],
)
def test_json_media_type_with_parameters_accepted(api, ctype):
    name = unique_name()
    r = _register_raw(api, _register_body(name), ctype)
    user = assert_user(assert_status(r, 201))
    assert user["username"] == name


# ---------------------------------------------------------------- 400 invalid_json


@pytest.mark.parametrize(
    "data",
    [
        b'{"username": "abc", "password":',
        b"{username: 'abc'}",
        b'{"username": "abc", "password": "abcdefghij"} trailing',
        b"not json at all",
        b'{"username": "ab\xff\xfe", "password": "abcdefghij"}',  # invalid UTF-8
    ],
)
def test_invalid_json_is_400(api, data):
    r = _register_raw(api, data, "application/json")
    assert_error(r, 400, "invalid_json")


def test_empty_body_where_one_is_required(api):
    r = _register_raw(api, b"", "application/json")
    # An empty body is not JSON (400); a server may also call it a missing body (422).
    assert r.status_code in (400, 422), describe(r)
    assert_error(r, r.status_code, {"invalid_json", "validation_failed"})


def test_deeply_nested_json_does_not_crash(api, url):
    depth = 20000
    data = b"[" * depth + b"]" * depth
    r = _register_raw(api, data, "application/json")
    assert r.status_code in (400, 422), describe(r)
    assert_error(r, r.status_code, {"invalid_json", "validation_failed"})
    assert_status(api.get("/health"), 200)


# ---------------------------------------------------------------- 413


def test_body_over_64k_is_413_json_from_nginx(api):
    data = b'{"username": "' + b"a" * (70 * 1024) + b'", "password": "abcdefghij"}'
    r = _register_raw(api, data, "application/json")
    assert_error(r, 413, "payload_too_large")


def test_body_of_exactly_64k_is_accepted(api):
    name = unique_name()
    body = _register_body(name)
    data = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"
    assert len(data) == 65536
    r = _register_raw(api, data, "application/json")
    assert_status(r, 201)


def test_body_of_64k_plus_one_is_413(api):
    body = _register_body(unique_name())
    data = body[:-1] + b" " * (64 * 1024 + 1 - len(body)) + b"}"
    assert len(data) == 65537
    r = _register_raw(api, data, "application/json")
    assert_error(r, 413, "payload_too_large")


def test_chunked_body_over_64k_is_413(api):
    def chunks():
        yield b'{"username": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'", "password": "abcdefghij"}'

    r = api.post(REGISTER, data=chunks(), headers={"Content-Type": "application/json"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert_error(r, 413, "payload_too_large")


# ---------------------------------------------------------------- Content-Type everywhere


@pytest.mark.parametrize(
    "method,path,kwargs",
    [
        ("GET", "/health", {}),
        ("GET", "/health/live", {}),
        ("GET", "/api/v1/products", {}),
        ("GET", "/api/v1/products/999999999", {}),
        ("GET", "/api/v1/nope", {}),
        ("DELETE", "/health", {}),
        ("GET", "/api/v1/users/me", {}),
        ("POST", "/api/v1/auth/login", {"json": {"username": "nobody_x", "password": "whatever12"}}),
        ("POST", "/api/v1/auth/register", {"json": {"username": "a"}}),
        ("POST", "/api/v1/auth/register", {"data": b"{", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/v1/auth/register", {"data": b"{}", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/api/v1/products", {"json": {"name": "x", "price": 1, "stock": 1}}),
    ],
)
def test_every_response_is_json(api, method, path, kwargs):
    r = api.request(method, path, **kwargs)
    assert r.status_code != 204
    assert_json_content_type(r)
    assert r.content, describe(r)
    r.json()


# ---------------------------------------------------------------- path ids


BAD_IDS = ["0", "-1", "abc", "1.5", "99999999999999999999999", "1e3", "%20"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_non_positive_integer_product_id_is_404(api, bad):
    r = api.get(f"/api/v1/products/{bad}")
    assert_error(r, 404, {"not_found", "product_not_found"})


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5", "99999999999999999999999"])
def test_non_positive_integer_id_on_admin_routes_is_404(admin_api, bad):
    body = {"name": "x", "price": 1, "stock": 1}
    for r in (
        admin_api.put(f"/api/v1/products/{bad}", json=body),
        admin_api.delete(f"/api/v1/products/{bad}"),
        admin_api.post(f"/api/v1/products/{bad}/restock", json={"quantity": 1}),
    ):
        assert_error(r, 404, {"not_found", "product_not_found"})


# ---------------------------------------------------------------- httpoxy


def test_proxy_header_is_harmless(api):
    headers = {"Proxy": "http://127.0.0.1:9/"}
    body = assert_status(api.get("/health", headers=headers), 200)
    assert body == {"status": "healthy", "database": "up"}
    page = assert_status(api.get("/api/v1/products", headers=headers), 200)
    assert set(page) == {"items", "next_after"}
