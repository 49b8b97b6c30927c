"""Issue 2: operator commands: migrations are idempotent; create-admin promotes an existing user."""

from stockroom_kit.client import (
    Api,
    assert_status,
    assert_user,
    create_admin,
    login_token,
    register,
    unique_name,
)
from stockroom_kit.stack import run_ctl


def test_migrate_twice_is_a_no_op():
    first = run_ctl("migrate")
    assert first.returncode == 0, first.stderr
    second = run_ctl("migrate")
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout, second.stdout


def test_create_admin_promotes_an_existing_customer():
    api = Api()
    name = unique_name("promo")
    assert_status(register(api, name), 201)
    token = login_token(api, name)
    assert assert_user(assert_status(api.get("/api/v1/users/me", token=token), 200))["role"] == "customer"
    create_admin(name)
    # The same session now carries the admin role (roles are read per request).
    assert assert_status(api.get("/api/v1/users/me", token=token), 200)["role"] == "admin"
    api.close()


def test_create_admin_refuses_a_bad_password():
    proc = run_ctl("create-admin", unique_name("adm"), stdin="short\n")
    assert proc.returncode != 0
    assert "password" in proc.stderr
