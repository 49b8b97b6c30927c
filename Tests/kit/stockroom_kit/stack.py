"""The private stack the suites run against: its environment, processes, logs and database.

The harness (scripts/lib/test-stack.sh, through scripts/integration-test.sh or scripts/chaos-test.sh)
starts a private stack and sets:

    STOCKROOM_URL        base URL of nginx, e.g. http://127.0.0.1:18081
    STOCKROOM_STACK_DIR  the stack dir (supervisord.conf, mariadb.pid, fcgi-N.pid, fcgi-N.sock, worker-N.pid, env)
    STOCKROOM_CTL        executable running `stockroomctl` against the stack's database
    STOCKROOM_STACK      executable running the dev stack script for this stack (`up`)
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

RESPONDER = "stockroom-fcgi"

# Timeouts of a request through nginx under faults: connect bound, read bound just above nginx's
# 30 s fastcgi_read_timeout, so nginx's own 504 would come first; no request can hang longer.
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 32.0
NGINX_READ_TIMEOUT = 30.0


# ---------------------------------------------------------------------------- environment


def base_url() -> str:
    return os.environ.get("STOCKROOM_URL", "http://127.0.0.1:8080").rstrip("/")


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run the suite through scripts/integration-test.sh")
    return value


def stack_dir() -> Path:
    return Path(required_env("STOCKROOM_STACK_DIR"))


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


def wait_for(predicate: Callable[[], Any], seconds: float, interval: float = 0.05) -> Any:
    """predicate() until it returns something truthy; None after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---------------------------------------------------------------------------- the stack's commands


def run_ctl(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    ctl = required_env("STOCKROOM_CTL")
    return subprocess.run(
        shlex.split(ctl) + list(args),
        input=stdin,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def run_stack(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The stack's script with ARGS; `env` adds variables to this process's environment for it."""
    stack = required_env("STOCKROOM_STACK")
    return subprocess.run(
        shlex.split(stack) + list(args), text=True, capture_output=True, timeout=timeout,
        env=dict(os.environ, **env) if env else None,
    )


def run_check() -> subprocess.CompletedProcess:
    """`stockroomctl check` against the stack's database."""
    return run_ctl("check", timeout=60)


def assert_check_clean() -> subprocess.CompletedProcess:
    proc = run_check()
    assert proc.returncode == 0 and re.search(r"check: \d+ products consistent", proc.stdout), (
        f"stockroomctl check ({proc.returncode}):\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    )
    return proc


# ---------------------------------------------------------------------------- processes


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


def responder_pid(index: int) -> int:
    pid = read_pid(stack_dir() / f"fcgi-{index}.pid")
    assert pid is not None and proc_comm(pid) == RESPONDER, (
        f"fcgi-{index}.pid names {pid} ({proc_comm(pid) if pid else None!r}), not a live {RESPONDER}"
    )
    return pid


def responder_socket(index: int) -> str:
    return str(stack_dir() / f"fcgi-{index}.sock")


def mariadb_pid() -> int:
    pid = read_pid(stack_dir() / "mariadb.pid")
    assert pid is not None and pid_alive(pid) and proc_comm(pid) in ("mariadbd", "mysqld"), (
        f"mariadb.pid names {pid} ({proc_comm(pid) if pid else None!r})"
    )
    return pid


def wait_new_responder(index: int, old: int, seconds: float = 10) -> int | None:
    def new() -> int | None:
        pid = read_pid(stack_dir() / f"fcgi-{index}.pid")
        if pid and pid != old and proc_comm(pid) == RESPONDER:
            return pid
        return None

    return wait_for(new, seconds)


# Processes a test stopped with SIGSTOP: always continued, even when the test fails (the fault
# suite's plugin continues them after every case, and this module at exit).
_stopped: set[int] = set()
_stopped_lock = threading.Lock()


def sigstop(pid: int) -> None:
    with _stopped_lock:
        _stopped.add(pid)
    os.kill(pid, signal.SIGSTOP)


def sigcont(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    with _stopped_lock:
        _stopped.discard(pid)


def continue_all_stopped() -> None:
    with _stopped_lock:
        pids = list(_stopped)
    for pid in pids:
        sigcont(pid)


atexit.register(continue_all_stopped)


# ---------------------------------------------------------------------------- logs


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_log_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def supervisord_log() -> Path:
    """The stack's supervisord log: it records every start and exit of the stack's programs."""
    return stack_dir() / "supervisord.log"


def exit_status(program: str, offset: int) -> str | None:
    """How `program` (supervisord's name: responder-1, worker-1, nginx, mariadb) first exited after
    `offset` of supervisord.log: its exit status ("0", "1", ...) or the signal ("SIGKILL"); None
    if supervisord has logged no exit of it since."""
    m = re.search(rf"exited: {re.escape(program)} \((?:exit status (\d+)|terminated by (SIG\w+))",
                  read_log_from(supervisord_log(), offset))
    return (m.group(1) or m.group(2)) if m else None


# ---------------------------------------------------------------------------- nginx


def nginx_workers(master: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == master and proc_comm(int(d.name)) == "nginx":
            out.add(int(d.name))
    return out


def reload_nginx() -> None:
    """SIGHUP to nginx: new workers, which start with every upstream in rotation. (After an upstream
    error nginx leaves that responder out for fail_timeout = 10 s, then sends it a single trial
    request: without this, what a case sees would depend on how long ago the previous one
    crashed a responder.)"""
    master = read_pid(stack_dir() / "nginx.pid")
    assert master and proc_comm(master) == "nginx", f"nginx.pid names {master}"
    old = nginx_workers(master)
    os.kill(master, signal.SIGHUP)
    assert wait_for(lambda: (nginx_workers(master) - old) and not (nginx_workers(master) & old), 15, 0.05), (
        f"nginx workers {old} were not replaced within 15 s of SIGHUP"
    )


_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) .* ua="(?P<ua>[^"]*)" id=(?P<id>\S+)')


def upstreams_by_request_id() -> dict[str, tuple[str, int]]:
    """request id -> (last upstream nginx used, e.g. "fcgi-2", status), from nginx's access log."""
    out: dict[str, tuple[str, int]] = {}
    try:
        text = (stack_dir() / "nginx" / "access.log").read_text(errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        m = _ACCESS.search(line)
        if not m:
            continue
        ua = m.group("ua").split(",")[-1].strip()  # "a, b" when nginx moved on to a second upstream
        name = re.search(r"(fcgi-\d+)\.sock", ua)
        out[m.group("id")] = (name.group(1) if name else ua, int(m.group("status")))
    return out


# ---------------------------------------------------------------------------- database


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


def db_root(sql: str, timeout: float = 15, check: bool = True) -> subprocess.CompletedProcess:
    """SQL as MariaDB's root over the stack's socket (KILL, SET GLOBAL, lock probes)."""
    sock = stack_env()["STOCKROOM_DB_SOCKET"]
    proc = subprocess.run(
        ["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-B", "-e", sql],
        text=True, capture_output=True, timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, f"mariadb (root) failed ({proc.returncode}) on {sql!r}:\n{proc.stderr}"
    return proc


def row_locked(product_id: int) -> bool:
    """Whether some transaction holds the row lock of a product: a FOR UPDATE NOWAIT probe that
    fails at once (1205) when it is held and is rolled back at once when it is not."""
    proc = db_root(
        "SET SESSION innodb_lock_wait_timeout = 1; START TRANSACTION; "
        f"SELECT id FROM stockroom.products WHERE id = {int(product_id)} FOR UPDATE NOWAIT; ROLLBACK;",
        check=False,
    )
    if proc.returncode == 0:
        return False
    if "1205" in proc.stderr or "Lock wait timeout" in proc.stderr:
        return True
    raise AssertionError(f"lock probe failed: {proc.stderr}")


def hook_sleepers(min_idle_ms: int = 200) -> set[int]:
    """Connections of the application user whose transaction holds row locks while the client sends
    nothing for `min_idle_ms`: the test hook's sleep after SELECT ... FOR UPDATE. (Under normal load a
    transaction seldom sits idle for 200 ms: the responder sends its statements back to back; a
    loaded CI machine can still deschedule one that long, so a long hook sleep asks for more.)"""
    out = db_root(
        "SELECT p.id FROM information_schema.innodb_trx t "
        "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
        f"WHERE p.user = 'stockroom' AND p.command = 'Sleep' AND p.time_ms > {int(min_idle_ms)} "
        "AND t.trx_state = 'RUNNING' AND t.trx_rows_locked > 0"
    ).stdout
    return {int(x) for x in out.split()}


def max_order_id() -> int:
    return int(db_exec("SELECT COALESCE(MAX(id), 0) FROM orders").strip() or 0)


def stockroom_connections() -> list[tuple[int, str, int]]:
    """(id, command, seconds idle) of every connection of the application user."""
    out = db_root("SELECT id, command, time FROM information_schema.processlist WHERE user = 'stockroom'").stdout
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            rows.append((int(parts[0]), parts[1], int(parts[2])))
    return rows


# ---------------------------------------------------------------------------- responder settings (reload)

RESPONDER_ENV = "responder.env"


def responder_indexes() -> list[int]:
    """The responders of the stack (1..N, from the fcgi-N.pid files)."""
    return sorted(int(m.group(1)) for f in stack_dir().glob("fcgi-*.pid") if (m := re.fullmatch(r"fcgi-(\d+)\.pid", f.name)))


def _write_settings(path: Path, original: str, settings: dict[str, str | None]) -> None:
    lines = original.splitlines()
    for name, value in settings.items():
        lines = [l for l in lines if not re.match(rf"^\s*(export\s+)?{re.escape(name)}=", l)]
        if value is not None:
            lines.append(f"export {name}={shlex.quote(value)}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


def reload_responders(seconds: float = 20) -> None:
    """SIGHUP to every responder, then wait until each has logged that new requests get the settings
    it re-read from $STOCKROOM_ENV_FILE (the stack's responder.env); fails on "reload failed"."""
    for index in responder_indexes():
        pid = responder_pid(index)
        log = stack_dir() / f"fcgi-{index}.log"
        offset = log_size(log)
        os.kill(pid, signal.SIGHUP)

        def done() -> str | None:
            text = read_log_from(log, offset)
            if "reload failed" in text:
                return "failed"
            return "ok" if "reloaded: new requests get the new settings" in text else None

        result = wait_for(done, seconds, 0.02)
        assert result == "ok", (
            f"fcgi-{index} (pid {pid}) did not reload within {seconds} s of SIGHUP ({result}); log since:\n"
            f"{read_log_from(log, offset)[-2000:]}"
        )


class ResponderSettings:
    """Changes settings of the running responders through the stack's responder.env (what
    $STOCKROOM_ENV_FILE names) and a SIGHUP reload; `restore()` puts the file back and reloads.

        settings = ResponderSettings()
        try:
            settings.set({"STOCKROOM_TAX_RATE": "13", "STOCKROOM_FREE_DELIVERY_FROM": None})  # None: removed
        finally:
            settings.restore()
    """

    def __init__(self) -> None:
        self.path = stack_dir() / RESPONDER_ENV
        assert self.path.exists(), f"{self.path} missing: the responders have no settings file to re-read"
        self.original = self.path.read_text()
        self.changed = False

    def set(self, settings: dict[str, str | None]) -> None:
        _write_settings(self.path, self.original, settings)
        self.changed = True
        reload_responders()

    def restore(self) -> None:
        if self.changed:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(self.original)
            os.replace(tmp, self.path)
            self.changed = False
            reload_responders()
