"""Contract: Users and sessions (register, login, logout, me, throttling, roles)."""

import random
import secrets
import statistics
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from stockroom_kit.client import (
    PASSWORD,
    assert_error,
    assert_recent,
    assert_status,
    assert_unauthorized,
    assert_user,
    create_admin,
    describe,
    jbody,
    login,
    login_token,
    parse_ts,
    register,
    unique_name,
)

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


# ---------------------------------------------------------------- register


def test_register_returns_201_customer(api):
    name = unique_name("Reg")
    r = register(api, name)
    user = assert_user(assert_status(r, 201))
    assert user["username"] == name
    assert user["role"] == "customer"
    assert_recent(user["created_at"])


def _random_name(length):
    alphabet = string.ascii_letters + string.digits + "_.-"
    return "".join(random.choice(string.ascii_letters) for _ in range(1)) + "".join(
        random.choice(alphabet) for _ in range(length - 1)
    )


@pytest.mark.parametrize("length", [3, 32])
def test_username_length_bounds_accepted(api, length):
    for _ in range(20):  # a short random name may already be taken; try another
        name = _random_name(length)
        r = register(api, name)
        if r.status_code == 400 and jbody(r)["error"]["code"] == "username_taken":
            continue
        user = assert_user(assert_status(r, 201))
        assert user["username"] == name
        return
    pytest.fail("could not find a free username")


def test_username_with_all_allowed_characters(api):
    name = "Az09_.-" + secrets.token_hex(6)
    assert_status(register(api, name), 201)


@pytest.mark.parametrize(
    "password",
    ["p" * 8, "p" * 128, "é" * 8, "é" * 128, "pass word with spaces"],
    ids=["8-ascii", "128-ascii", "8-non-ascii", "128-non-ascii", "spaces"],
)
def test_password_length_bounds_accepted(api, password):
    name = unique_name()
    assert_status(register(api, name, password), 201)
    assert_status(login(api, name, password), 200)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "ab", "password": PASSWORD}, "username"),
        ({"username": "a" * 33, "password": PASSWORD}, "username"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "bad name", "password": PASSWORD}, "username"),
        ({"username": "al!ce_x", "password": PASSWORD}, "username"),
        ({"username": "ümlaut_x", "password": PASSWORD}, "username"),
        ({"username": "a/b/c", "password": PASSWORD}, "username"),
        ({"username": "quote'x", "password": PASSWORD}, "username"),
        ({"username": "{name}", "password": "p" * 7}, "password"),
        ({"username": "{name}", "password": "é" * 7}, "password"),
        ({"username": "{name}", "password": "p" * 129}, "password"),
        ({"username": "{name}", "password": ""}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": "{name}"}, "password"),
        ({"username": "{name}", "password": PASSWORD, "email": "a@b.c"}, "email"),
        ({"username": 12345, "password": PASSWORD}, "username"),
        ({"username": None, "password": PASSWORD}, "username"),
        ({"username": ["abc"], "password": PASSWORD}, "username"),
        ({"username": "{name}", "password": 12345678}, "password"),
        ({"username": "{name}", "password": True}, "password"),
        ({"username": "{name}", "password": {"x": 1}}, "password"),
    ],
)
def test_register_validation_422(api, body, field):
    name = unique_name()
    body = {k: (v.replace("{name}", name) if isinstance(v, str) else v) for k, v in body.items()}
    r = api.post(REGISTER, json=body)
    assert_error(r, 422, "validation_failed", field=field)


@pytest.mark.parametrize("body", [[], ["abc", PASSWORD], "abc", 42, None])
def test_register_body_of_wrong_shape_422(api, body):
    r = api.post(REGISTER, json=body)
    assert_error(r, 422, "validation_failed")


def test_username_unique_without_regard_to_case(api):
    suffix = secrets.token_hex(6)
    assert_status(register(api, "Alice_" + suffix), 201)
    assert_error(register(api, "alice_" + suffix), 400, "username_taken")
    assert_error(register(api, "ALICE_" + suffix), 400, "username_taken")
    assert_error(register(api, "Alice_" + suffix), 400, "username_taken")


def test_login_is_case_insensitive_on_username(api):
    name = "CaseUser_" + secrets.token_hex(6)
    assert_status(register(api, name), 201)
    assert_status(login(api, name.lower()), 200)
    assert_status(login(api, name.upper()), 200)


def test_concurrent_registrations_of_one_name(make_api):
    name = unique_name("race")
    n = 40
    clients = [make_api() for _ in range(n)]
    barrier = threading.Barrier(n)

    def attempt(client):
        barrier.wait(timeout=20)
        return register(client, name)

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(attempt, clients))

    statuses = sorted(r.status_code for r in responses)
    assert not [r for r in responses if r.status_code >= 500], [describe(r) for r in responses if r.status_code >= 500]
    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1, statuses
    assert_user(jbody(created[0]))
    for r in responses:
        if r.status_code != 201:
            assert_error(r, 400, "username_taken")
    # and the one account works
    assert_status(login(clients[0], name), 200)


# ---------------------------------------------------------------- login


def test_login_returns_bearer_token(api):
    name = unique_name()
    assert_status(register(api, name), 201)
    body = assert_status(login(api, name), 200)
    assert set(body) == {"token", "token_type", "expires_at"}, body
    assert body["token_type"] == "Bearer"
    assert isinstance(body["token"], str) and len(body["token"]) >= 22, body
    assert all(c.isascii() and c.isprintable() and c != " " for c in body["token"]), body
    expires = parse_ts(body["expires_at"])
    now = time.time()
    assert now + 60 < expires.timestamp() < now + 366 * 86400, body


def test_each_login_gives_a_new_working_token(api):
    name = unique_name()
    assert_status(register(api, name), 201)
    t1 = login_token(api, name)
    t2 = login_token(api, name)
    assert t1 != t2
    assert assert_status(api.get(ME, token=t1), 200)["username"] == name
    assert assert_status(api.get(ME, token=t2), 200)["username"] == name


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "abc_def"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": 5, "password": PASSWORD}, "username"),
        ({"username": "abc_def", "password": PASSWORD, "remember": True}, "remember"),
    ],
)
def test_login_validation_422(api, body, field):
    assert_error(api.post(LOGIN, json=body), 422, "validation_failed", field=field)


def test_wrong_password_and_unknown_user_are_identical(api):
    name = unique_name()
    assert_status(register(api, name), 201)
    wrong = login(api, name, "wrong-password-1")
    unknown = login(api, unique_name("ghost"), "wrong-password-1")
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.content == unknown.content, (describe(wrong), describe(unknown))
    for header in ("Content-Type", "WWW-Authenticate"):
        assert wrong.headers.get(header) == unknown.headers.get(header), header


def test_wrong_password_and_unknown_user_take_about_the_same_time(api):
    name = unique_name()
    assert_status(register(api, name), 201)
    ghost = unique_name("ghost")
    # warm up the connection and both paths
    login(api, name, "wrong-password-1")
    login(api, ghost, "wrong-password-1")
    wrong_times, unknown_times = [], []
    for _ in range(5):  # 1 + 5 failures on the account: below the throttle of 10
        t = time.perf_counter()
        assert_error(login(api, name, "wrong-password-1"), 401, "invalid_credentials")
        wrong_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert_error(login(api, ghost, "wrong-password-1"), 401, "invalid_credentials")
        unknown_times.append(time.perf_counter() - t)
    ratio = statistics.median(unknown_times) / statistics.median(wrong_times)
    assert 0.5 <= ratio <= 2, (
        f"unknown-user median {statistics.median(unknown_times)*1000:.1f} ms vs "
        f"wrong-password median {statistics.median(wrong_times)*1000:.1f} ms (ratio {ratio:.2f})"
    )


# ---------------------------------------------------------------- me


def test_me_is_the_registration_body(api):
    name = unique_name()
    registered = assert_status(register(api, name), 201)
    token = login_token(api, name)
    me = assert_user(assert_status(api.get(ME, token=token), 200))
    assert me == registered


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-real-token",
        "Bearer " + secrets.token_hex(32),
        "Bearer " + secrets.token_urlsafe(32),
        "Basic dXNlcjpwYXNz",
        "Token " + secrets.token_hex(32),
        "Bearer " + "A" * 5000,
        "Bearer ' OR '1'='1",
    ],
)
def test_me_without_valid_token_is_401(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    r = api.get(ME, headers=headers)
    assert_unauthorized(r)


def test_me_with_other_scheme_carrying_a_valid_token_is_401(api, new_user):
    user = new_user()
    assert_unauthorized(api.get(ME, headers={"Authorization": "Basic " + user["token"]}))


# ---------------------------------------------------------------- logout


def test_logout_revokes_the_token_at_once(api, new_user):
    user = new_user()
    token = user["token"]
    assert_status(api.get(ME, token=token), 200)
    r = api.post(LOGOUT, token=token)
    assert "Content-Type" not in r.request.headers  # no body needed
    assert_status(r, 204)
    assert_unauthorized(api.get(ME, token=token))
    assert_unauthorized(api.post(LOGOUT, token=token))


def test_logout_ends_only_that_session(api, new_user):
    user = new_user()
    other = login_token(api, user["username"], user["password"])
    assert_status(api.post(LOGOUT, token=user["token"]), 204)
    assert_unauthorized(api.get(ME, token=user["token"]))
    assert assert_status(api.get(ME, token=other), 200)["username"] == user["username"]


def test_logout_without_token_is_401(api):
    assert_unauthorized(api.post(LOGOUT))
    assert_unauthorized(api.post(LOGOUT, token=secrets.token_hex(32)))


# ---------------------------------------------------------------- throttling


def test_login_throttled_after_10_failures(api, new_user):
    victim = new_user("victim", with_token=False)
    bystander = new_user("bystander", with_token=False)
    for i in range(10):
        assert_error(login(api, victim["username"], "wrong-password-%d" % i), 401, "invalid_credentials")
    r = login(api, victim["username"], victim["password"])
    assert_error(r, 429, "too_many_attempts")
    retry_after = r.headers.get("Retry-After", "")
    assert retry_after.isdigit(), describe(r)
    assert 0 < int(retry_after) <= 900, describe(r)
    # still throttled, whatever the password
    assert_error(login(api, victim["username"], "wrong-password-x"), 429, "too_many_attempts")
    # the throttle is per account: another account logs in fine
    assert_status(login(api, bystander["username"], bystander["password"]), 200)


def test_successful_login_below_threshold_is_not_throttled(api, new_user):
    user = new_user("under", with_token=False)
    for i in range(5):
        assert_error(login(api, user["username"], "wrong-password-%d" % i), 401, "invalid_credentials")
    assert_status(login(api, user["username"], user["password"]), 200)


# ---------------------------------------------------------------- roles


def test_no_http_way_to_become_admin(api):
    name = unique_name()
    r = api.post(REGISTER, json={"username": name, "password": PASSWORD, "role": "admin"})
    assert_error(r, 422, "validation_failed", field="role")
    # and nothing was created
    assert_error(login(api, name), 401, "invalid_credentials")


def test_create_admin_from_command_line(api):
    name = unique_name("adm")
    create_admin(name)
    token = login_token(api, name)
    me = assert_user(assert_status(api.get(ME, token=token), 200))
    assert me["role"] == "admin" and me["username"] == name


def test_create_admin_promotes_existing_user(api, new_user):
    user = new_user("promo")
    before = assert_status(api.get(ME, token=user["token"]), 200)
    assert before["role"] == "customer"
    create_admin(user["username"], user["password"])
    token = login_token(api, user["username"], user["password"])
    after = assert_user(assert_status(api.get(ME, token=token), 200))
    assert after["role"] == "admin"
    assert after["id"] == before["id"]
