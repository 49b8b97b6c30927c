"""Issue 12, the command line: `--version`, the daemons' `--check-config`, and the exit statuses of
`stockroomctl check`, against the stack's MariaDB.

- `--version` of each program is `<program> <git describe --tags --always --dirty>` of this checkout,
  which the binaries ($BIN_DIR) were built from just before (skipped outside a git checkout);
- `--check-config` with the stack's environment: exit 0 with every check named; the password from
  a credentials folder as `LoadCredential=` makes it, without STOCKROOM_DB_PASSWORD; exit 1 for a bad
  value, an unreadable environment or password file, a missing socket folder, an unknown group (each
  named); exit 2 for a refused account or unreachable nodes (each node named); a note, still 0, for
  the socket of a responder that is running; `scripts/devstack.sh check-config` (`make check-config`)
  runs both with the stack's own environment;
- `stockroomctl check` on a throwaway database in the stack's MariaDB (migrated here, dropped after):
  0 consistent, 1 after a stock changed by hand, 2 when the database cannot be reached or the
  settings are bad, 64 for an unknown option.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from stockroom_kit.stack import db_root, run_stack, stack_dir, stack_env

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = ("stockroom-fcgi", "stockroom-worker", "stockroomctl")


def bin_dir() -> Path:
    return Path(os.environ.get("BIN_DIR") or REPO / ".build" / "release")


def run(program: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """The program with exactly `env` (plus PATH): nothing leaks in from the test's environment."""
    return subprocess.run([str(bin_dir() / program), *args], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
                          text=True, capture_output=True, timeout=timeout)


def out(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


@pytest.fixture
def folder():
    """A short private folder (unix socket paths must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="sr-cli-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- --version


def test_version_is_the_git_describe_of_the_build():
    described = subprocess.run(["git", "-C", str(REPO), "describe", "--tags", "--always", "--dirty"],
                               text=True, capture_output=True)
    if described.returncode != 0:
        pytest.skip(f"not a git checkout: {described.stderr.strip()}")
    version = described.stdout.strip()
    for program in PROGRAMS:
        proc = run(program, "--version", env={})
        assert proc.returncode == 0, out(proc)
        assert proc.stdout == f"{program} {version}\n", (
            f"{program} --version says {proc.stdout.strip()!r}, the checkout is {version!r} "
            f"(was the tree changed after `swift build -c release`?)")


# ---------------------------------------------------------------------------- --check-config


def responder_env(folder: Path, **changes: str | None) -> dict[str, str]:
    env = {**stack_env(), "STOCKROOM_SOCKET": str(folder / "fcgi.sock")}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.mark.parametrize("program", ["stockroom-fcgi", "stockroom-worker"])
def test_check_config_passes_with_the_stacks_settings(program, folder):
    proc = run(program, "--check-config", env=responder_env(folder))
    assert proc.returncode == 0, out(proc)
    lines = proc.stdout.splitlines()
    assert f"{program}: settings: ok (read from the environment)" in lines, out(proc)
    assert f"{program}: database password: ok (from STOCKROOM_DB_PASSWORD)" in lines, out(proc)
    database = [line for line in lines if line.startswith(f"{program}: database at {stack_env()['STOCKROOM_DB_SOCKET']}: ok (MariaDB ")]
    assert len(database) == 1, out(proc)
    if program == "stockroom-fcgi":
        assert any(line.startswith(f"stockroom-fcgi: socket {folder}/fcgi.sock: ok (directory {folder} writable")
                   for line in lines), out(proc)
    assert lines[-1] == f"{program}: the configuration is ok", out(proc)
    assert not (folder / "fcgi.sock").exists(), "--check-config created the socket"


def write_credential(folder: Path, password: str) -> Path:
    credentials = folder / "credentials"
    credentials.mkdir()
    (credentials / "db-password").write_text(password + "\n")
    (credentials / "db-password").chmod(0o400)
    return credentials


@pytest.mark.parametrize("program", ["stockroom-fcgi", "stockroom-worker"])
def test_check_config_reads_the_password_from_the_credential(program, folder):
    password = stack_env()["STOCKROOM_DB_PASSWORD"]
    credentials = write_credential(folder, password)
    env = responder_env(folder, STOCKROOM_DB_PASSWORD=None, CREDENTIALS_DIRECTORY=str(credentials))
    proc = run(program, "--check-config", env=env)
    assert proc.returncode == 0, out(proc)
    assert (f"{program}: database password: ok (from the systemd credential db-password at "
            f"{credentials}/db-password)") in proc.stdout.splitlines(), out(proc)


def test_check_config_a_wrong_password_is_exit_2_naming_the_database(folder):
    credentials = write_credential(folder, "not-the-password")
    env = responder_env(folder, CREDENTIALS_DIRECTORY=str(credentials))  # the credential wins over the variable
    proc = run("stockroom-fcgi", "--check-config", env=env)
    assert proc.returncode == 2, out(proc)
    assert "stockroom-fcgi: database password: note: STOCKROOM_DB_PASSWORD is set too, and not used" in proc.stdout
    assert f"database at {env['STOCKROOM_DB_SOCKET']}: FAILED: MariaDB error 1045" in proc.stdout, out(proc)
    assert "not-the-password" not in proc.stdout + proc.stderr


def test_check_config_names_every_node_that_does_not_answer(folder):
    first, second = free_port(), free_port()
    env = responder_env(folder, STOCKROOM_DB_SOCKET=None, STOCKROOM_DB_HOSTS=f"127.0.0.1:{first},127.0.0.1:{second}")
    for program in ("stockroom-fcgi", "stockroom-worker"):
        proc = run(program, "--check-config", env=env)
        assert proc.returncode == 2, out(proc)
        assert f"{program}: database node 1 of 2 at 127.0.0.1:{first}: FAILED: MariaDB error 2002" in proc.stdout, out(proc)
        assert f"{program}: database node 2 of 2 at 127.0.0.1:{second}: FAILED: MariaDB error 2002" in proc.stdout, out(proc)
        assert "the database is not reachable as configured (exit 2)" in proc.stdout.splitlines()[-1]


def test_check_config_bad_settings_are_exit_1_each_named(folder):
    env_file = folder / "stockroom.env"
    env_file.write_text("STOCKROOM_WORKER_BATCH=0\nSTOCKROOM_IDLE_TIMEOUT=forever\n")
    env = responder_env(folder, STOCKROOM_THREADS="0", STOCKROOM_ENV_FILE=str(env_file))
    proc = run("stockroom-fcgi", "--check-config", env=env)
    assert proc.returncode == 1, out(proc)
    assert 'stockroom-fcgi: settings: FAILED: STOCKROOM_THREADS must be a whole number from 1 to 1024, got "0"' in proc.stdout
    assert "stockroom-fcgi: settings: FAILED: STOCKROOM_IDLE_TIMEOUT must be" in proc.stdout, out(proc)
    proc = run("stockroom-worker", "--check-config", env=env)
    assert proc.returncode == 1, out(proc)
    assert "stockroom-worker: settings: FAILED: STOCKROOM_WORKER_BATCH must be" in proc.stdout, out(proc)
    # --threads wins over the variable, as at a start; the file still has a bad value.
    proc = run("stockroom-fcgi", "--check-config", "--threads", "4", env=env)
    assert proc.returncode == 1 and "STOCKROOM_THREADS" not in proc.stdout, out(proc)

    env_file.write_text("STOCKROOM_THREADS=4 # a comment after the value\n")
    proc = run("stockroom-worker", "--check-config", env=env)
    assert proc.returncode == 1, out(proc)
    assert f"stockroom-worker: settings: FAILED: cannot read STOCKROOM_ENV_FILE: {env_file}, line 1: text after the value" in proc.stdout


def test_check_config_an_unreadable_password_file_is_exit_1_naming_it(folder):
    env = responder_env(folder, STOCKROOM_DB_PASSWORD_FILE=str(folder / "missing"))
    proc = run("stockroom-worker", "--check-config", env=env)
    assert proc.returncode == 1, out(proc)
    assert (f"stockroom-worker: settings: FAILED: the database password from STOCKROOM_DB_PASSWORD_FILE={folder}/missing: "
            "cannot open: No such file or directory") in proc.stdout, out(proc)


def test_check_config_the_socket_folder_and_group(folder):
    env = responder_env(folder, STOCKROOM_SOCKET=str(folder / "missing" / "fcgi.sock"), STOCKROOM_SOCKET_GROUP="no-such-group-sr")
    proc = run("stockroom-fcgi", "--check-config", env=env)
    assert proc.returncode == 1, out(proc)
    subject = f"stockroom-fcgi: socket {folder}/missing/fcgi.sock: FAILED: "
    assert f"{subject}directory {folder}/missing: No such file or directory" in proc.stdout, out(proc)
    assert f"{subject}group no-such-group-sr does not exist" in proc.stdout, out(proc)
    assert "stockroom-fcgi: database at" in proc.stdout, "the database is checked even when the socket fails"
    # --socket wins over the variable, as at a start.
    proc = run("stockroom-fcgi", "--check-config", "--socket", str(folder / "flag.sock"),
               env=responder_env(folder, STOCKROOM_SOCKET=str(folder / "missing" / "fcgi.sock")))
    assert proc.returncode == 0, out(proc)


def test_check_config_on_a_running_responders_socket_is_a_note(folder):
    running = stack_dir() / "fcgi-1.sock"
    proc = run("stockroom-fcgi", "--check-config", env=responder_env(folder, STOCKROOM_SOCKET=str(running)))
    assert proc.returncode == 0, out(proc)
    assert f"stockroom-fcgi: socket {running}: note: a process listens on {running} now" in proc.stdout, out(proc)
    assert running.is_socket()


def test_devstack_check_config_checks_the_stacks_responder_and_worker():
    """`make check-config` is `scripts/devstack.sh check-config` with the stack's environment."""
    proc = run_stack("check-config", timeout=60)
    assert proc.returncode == 0, out(proc)
    lines = proc.stdout.splitlines()
    for program in ("stockroom-fcgi", "stockroom-worker"):
        assert f"{program}: the configuration is ok" in lines, out(proc)
    assert f"stockroom-fcgi: socket {stack_dir()}/fcgi-1.sock: note: a process listens on" in proc.stdout, out(proc)


# ---------------------------------------------------------------------------- stockroomctl check


@pytest.fixture(scope="module")
def throwaway_database():
    """A database of its own in the stack's MariaDB, migrated by stockroomctl as root, dropped after."""
    name = f"stockroom_cli_{uuid.uuid4().hex[:8]}"
    db_root(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    env = {"STOCKROOM_DB_SOCKET": stack_env()["STOCKROOM_DB_SOCKET"], "STOCKROOM_DB_USER": "root",
           "STOCKROOM_DB_NAME": name, "STOCKROOM_SQL_DIR": str(REPO / "sql")}
    try:
        proc = run("stockroomctl", "migrate", env=env, timeout=120)
        assert proc.returncode == 0, out(proc)
        yield name, env
    finally:
        db_root(f"DROP DATABASE IF EXISTS {name}", check=False)


def test_check_exit_statuses_consistent_then_a_mismatch_made_by_hand(throwaway_database):
    name, env = throwaway_database
    db_root(f"""INSERT INTO {name}.products (name, price, stock, created_at, updated_at)
                  VALUES ('cli check', 1.00, 0, UTC_TIMESTAMP(), UTC_TIMESTAMP());
                INSERT INTO {name}.stock_ledger (product_id, delta, reason, created_at)
                  VALUES (LAST_INSERT_ID(), 5, 'created', UTC_TIMESTAMP())""")
    product = db_root(f"SELECT id, stock FROM {name}.products").stdout.split()
    assert product[1] == "5", product  # the ledger's trigger set the stock
    proc = run("stockroomctl", "check", env=env)
    assert proc.returncode == 0, out(proc)
    assert proc.stdout == "check: 1 products consistent\n", out(proc)

    db_root(f"UPDATE {name}.products SET stock = stock + 2")  # behind the ledger's back
    proc = run("stockroomctl", "check", env=env)
    assert proc.returncode == 1, out(proc)
    assert f"mismatch: product {product[0]}: stock 7 but ledger sums to 5" in proc.stdout, out(proc)
    assert proc.stdout.endswith("check: 1 mismatch(es) in 1 products\n"), out(proc)


def test_check_is_exit_2_when_it_cannot_check(folder):
    proc = run("stockroomctl", "check", env={"STOCKROOM_DB_SOCKET": str(folder / "no-mariadb.sock")})
    assert proc.returncode == 2, out(proc)
    assert "stockroomctl: cannot connect to MariaDB: MariaDB error 2002" in proc.stderr, out(proc)
    proc = run("stockroomctl", "check", env={"STOCKROOM_DB_HOSTS": f"127.0.0.1:{free_port()}"})
    assert proc.returncode == 2, out(proc)
    proc = run("stockroomctl", "check", env={**stack_env(), "STOCKROOM_DB_PORT": "none"})
    assert proc.returncode == 2, out(proc)
    assert "stockroomctl: bad settings: STOCKROOM_DB_PORT" in proc.stderr, out(proc)
    proc = run("stockroomctl", "check", env={**stack_env(), "STOCKROOM_DB_PASSWORD": "wrong"})
    assert proc.returncode == 2 and "MariaDB error 1045" in proc.stderr, out(proc)


def test_check_usage_errors_are_argument_parsers_64():
    proc = run("stockroomctl", "check", "--no-such-option", env=stack_env())
    assert proc.returncode == 64, out(proc)
    assert "Unknown option '--no-such-option'" in proc.stderr, out(proc)
    help_text = run("stockroomctl", "check", "--help", env={}).stdout
    assert "Exit status: 0 everything is consistent; 1 mismatches were found" in " ".join(help_text.split())
