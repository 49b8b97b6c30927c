"""Check-then-act races off the tested path (issue 8): concurrent wrong passwords against the
login throttle, and several `stockroomctl migrate` runs at once (hosts deploying together)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stockroom_kit.client import assert_error, assert_status, describe, login
from stockroom_kit.stack import stack_dir, stack_env

REPO = Path(__file__).resolve().parents[2]


def test_concurrent_wrong_passwords_meet_the_throttle(make_api, new_user):
    victim = new_user("racer", with_token=False)

    def guess(i: int):
        return login(make_api(), victim["username"], f"wrong-password-{i}")

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(guess, range(30)))
    statuses = sorted(r.status_code for r in answers)
    # At most 10 passwords are checked per window, however many guesses arrive at once.
    assert statuses.count(401) == 10, statuses
    assert statuses.count(429) == 20, statuses
    for r in answers:
        if r.status_code == 429:
            assert_error(r, 429, "too_many_attempts")
            assert r.headers.get("Retry-After", "").isdigit(), describe(r)
    # The right password is not checked either until the window has passed.
    assert_error(login(make_api(), victim["username"], victim["password"]), 429, "too_many_attempts")


def test_concurrent_guesses_for_an_unknown_name_meet_the_same_throttle(make_api):
    name = "ghost_" + uuid.uuid4().hex[:12]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: login(make_api(), name, f"wrong-password-{i}"), range(20)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(401) == 10 and statuses.count(429) == 10, statuses


def test_a_success_among_concurrent_guesses_resets_the_count(make_api, new_user):
    user = new_user("mixed", with_token=False)
    with ThreadPoolExecutor(5) as pool:
        wrong = list(pool.map(lambda i: login(make_api(), user["username"], f"wrong-password-{i}"), range(5)))
    assert all(r.status_code == 401 for r in wrong), [describe(r) for r in wrong]
    assert_status(login(make_api(), user["username"], user["password"]), 200)
    # The successful login cleared the five failures: ten more guesses are checked.
    with ThreadPoolExecutor(12) as pool:
        again = sorted(r.status_code for r in pool.map(lambda i: login(make_api(), user["username"], f"bad-{i}-password"), range(12)))
    assert again.count(401) == 10 and again.count(429) == 2, again


def _root(sql: str) -> str:
    proc = subprocess.run(
        ["mariadb", "--no-defaults", "-S", stack_env()["STOCKROOM_DB_SOCKET"], "-uroot", "-N", "-B", "-e", sql],
        text=True, capture_output=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _ctl_binary() -> str:
    # The stack's ctl wrapper names the binaries' folder (BIN_DIR); run stockroomctl itself so
    # that it can be pointed at another database.
    text = (stack_dir() / "ctl").read_text()
    match = re.search(r"BIN_DIR=(\S+)", text)
    folder = match.group(1) if match else str(REPO / ".build" / "release")
    return str(Path(folder) / "stockroomctl")


def test_concurrent_migrate_runs_all_succeed():
    database = "migrate_race_" + uuid.uuid4().hex[:10]
    _root(f"CREATE DATABASE {database}")
    # GET_LOCK is node-local on a Galera cluster: runners on other nodes never see it. A session
    # holding that name here stands for them; the runs must not depend on it.
    node_local_lock = subprocess.Popen(
        ["mariadb", "--no-defaults", "-S", stack_env()["STOCKROOM_DB_SOCKET"], "-uroot", "-N", "-B", "-e",
         "SELECT GET_LOCK('stockroom_migrate', 5); SELECT SLEEP(90)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = {
            "PATH": "/usr/bin:/bin",
            "STOCKROOM_DB_SOCKET": stack_env()["STOCKROOM_DB_SOCKET"],
            "STOCKROOM_DB_USER": "root",
            "STOCKROOM_DB_NAME": database,
            "STOCKROOM_SQL_DIR": str(REPO / "sql"),
        }
        runners = [
            subprocess.Popen([_ctl_binary(), "migrate"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(4)
        ]
        outputs = [(r.wait(timeout=50), r.stdout.read()) for r in runners]
        for code, output in outputs:
            assert code == 0, output
        files = sorted(p.name for p in (REPO / "sql").glob("[0-9]*.sql"))
        rows = _root(f"SELECT version, COUNT(*) FROM {database}.schema_migrations GROUP BY version ORDER BY version")
        assert [line.split("\t") for line in rows.splitlines()] == [[f, "1"] for f in files]
        applied = sum(len(re.findall(r"^applied \d+.*\.sql$", output, re.M)) for _, output in outputs)
        assert applied == len(files), outputs
        # And once more, alone: nothing to do.
        again = subprocess.run([_ctl_binary(), "migrate"], env=env, text=True, capture_output=True, timeout=60)
        assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    finally:
        node_local_lock.kill()
        node_local_lock.wait()
        _root(f"DROP DATABASE IF EXISTS {database}")


def _migrate_env(database: str, sql_dir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "STOCKROOM_DB_SOCKET": stack_env()["STOCKROOM_DB_SOCKET"],
        "STOCKROOM_DB_USER": "root",
        "STOCKROOM_DB_NAME": database,
        "STOCKROOM_SQL_DIR": str(sql_dir),
    }


def test_a_slow_migration_keeps_its_lease_and_a_dead_runner_lets_go(tmp_path):
    """A migration that outlasts the lease keeps it (the renewer thread); a runner killed while
    holding it stops the others only until the lease runs out."""
    database = "migrate_lease_" + uuid.uuid4().hex[:10]
    sql_dir = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql_dir)
    (sql_dir / "900_slow.sql").write_text("DO SLEEP(6);\n")
    _root(f"CREATE DATABASE {database}")
    env = _migrate_env(database, sql_dir)
    ctl = [_ctl_binary(), "migrate", "--lease-seconds", "4"]
    try:
        first = subprocess.Popen(ctl, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.5)
        second = subprocess.Popen(ctl, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out1, out2 = first.communicate(timeout=40)[0], second.communicate(timeout=40)[0]
        # The first held the lease through its 6 s file (longer than the 4 s lease); the second waited.
        assert first.returncode == 0 and "applied 900_slow.sql" in out1, out1
        assert second.returncode == 0 and "waiting for another migration run" in out2 and "up to date" in out2, out2

        (sql_dir / "901_slow.sql").write_text("DO SLEEP(20);\n")
        victim = subprocess.Popen(ctl, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(2)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        (sql_dir / "901_slow.sql").write_text("DO SLEEP(0);\n")
        started = time.monotonic()
        after = subprocess.run(ctl, env=env, text=True, capture_output=True, timeout=60)
        waited = time.monotonic() - started
        assert after.returncode == 0 and "applied 901_slow.sql" in after.stdout, after.stdout + after.stderr
        assert waited < 15, f"waited {waited:.1f} s for a dead runner's 4 s lease"
    finally:
        _root(f"DROP DATABASE IF EXISTS {database}")
