"""Issue 12, the dev stack on a real supervisor: scripts/devstack.sh renders a supervisord
configuration for MariaDB, the responders, the workers, nginx and a logrotate loop, and
supervisord runs them; `up`, `down` and `status` drive it with supervisorctl.

Here, on the integration stack: every program runs under supervisord; what dies is restarted
(nginx and the logrotate loop here; responders in Faults/test_01 and test_fastcgi_records, the
worker in test_worker); `up` restarts only the programs whose settings changed and passes them
nothing else of its environment; every log of the stack is capped (the class: each log file the
stack writes, whoever writes it); nginx's access log is rotated past its size with nginx writing to
the new file. That `down` leaves no process behind is checked by the harness after every suite
(scripts/lib/test-stack.sh, test_stack_down).
"""

from __future__ import annotations

import configparser
import os
import re
import signal
import time
from pathlib import Path

import requests

from stockroom_kit.stack import (
    base_url,
    pid_alive,
    proc_comm,
    read_pid,
    responder_indexes,
    run_stack,
    stack_dir,
    wait_for,
)

PROGRAMS_OF_A_STACK = {"mariadb", "nginx", "logrotate"}


def supervisord_conf() -> configparser.RawConfigParser:
    conf = configparser.RawConfigParser()
    conf.read(stack_dir() / "supervisord.conf")
    return conf


def status_lines() -> dict[str, str]:
    """`stack status`: supervisorctl's name -> state, and the /health line under "health"."""
    proc = run_stack("status", timeout=60)
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        if m := re.match(r"^\s+(\S+)\s+(RUNNING|STARTING|BACKOFF|STOPPED|EXITED|FATAL|STOPPING|UNKNOWN)\b", line):
            out[m.group(1).split(":")[-1]] = m.group(2)
        elif m := re.match(r"^\s+GET /health: (.*)$", line):
            out["health"] = m.group(1)
    out["exit"] = str(proc.returncode)
    return out


def worker_indexes() -> list[int]:
    return sorted(int(m.group(1)) for f in stack_dir().glob("worker-*.pid") if (m := re.fullmatch(r"worker-(\d+)\.pid", f.name)))


def stack_pids() -> dict[str, int | None]:
    d = stack_dir()
    pids = {"supervisord": read_pid(d / "supervisord.pid"), "mariadb": read_pid(d / "mariadb.pid"),
            "nginx": read_pid(d / "nginx.pid")}
    pids |= {f"responder-{i}": read_pid(d / f"fcgi-{i}.pid") for i in responder_indexes()}
    pids |= {f"worker-{i}": read_pid(d / f"worker-{i}.pid") for i in worker_indexes()}
    return pids


def healthy() -> bool:
    try:
        return requests.get(base_url() + "/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_every_program_runs_under_supervisord():
    status = status_lines()
    expected = PROGRAMS_OF_A_STACK | {f"responder-{i}" for i in responder_indexes()} | {f"worker-{i}" for i in worker_indexes()}
    assert responder_indexes() and worker_indexes(), f"no responders or workers in {stack_dir()}"
    assert {name: status.get(name) for name in expected} == {name: "RUNNING" for name in expected}, status
    assert status["health"] == "200" and status["exit"] == "0", status
    # The pid files the stack writes name the processes supervisord runs.
    for name, pid in stack_pids().items():
        assert pid is not None and pid_alive(pid), f"{name}: pid {pid} not alive"
    ppid = lambda pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # noqa: E731
    supervisord = stack_pids()["supervisord"]
    for name, pid in stack_pids().items():
        if name != "supervisord":
            assert ppid(pid) == supervisord, f"{name} (pid {pid}) is not a child of supervisord ({supervisord})"


def test_nginx_and_the_logrotate_loop_are_restarted_when_they_die():
    d = stack_dir()
    nginx = read_pid(d / "nginx.pid")
    os.kill(nginx, signal.SIGTERM)
    new = wait_for(lambda: (p := read_pid(d / "nginx.pid")) != nginx and p and proc_comm(p) == "nginx" and p, 15, 0.1)
    assert new, f"nginx (pid {nginx}) was not restarted within 15 s"
    assert wait_for(healthy, 15, 0.1), "GET /health through the restarted nginx is not 200"

    loop = int(run_stack("supervisorctl", "pid", "logrotate").stdout.strip())
    os.kill(loop, signal.SIGKILL)
    again = wait_for(lambda: (p := run_stack("supervisorctl", "pid", "logrotate").stdout.strip()).isdigit()
                     and int(p) not in (0, loop) and int(p), 15, 0.2)
    assert again, "the logrotate loop was not restarted within 15 s"


def test_up_restarts_only_the_programs_whose_settings_changed():
    before = stack_pids()
    up = run_stack("up")
    assert up.returncode == 0, up.stderr[-3000:]
    assert stack_pids() == before, "an `up` with nothing changed restarted something"

    # A worker setting: the workers restart, nothing else does.
    try:
        up = run_stack("up", env={"STOCKROOM_WORKER_POLL_INTERVAL": "0.35"})
        assert up.returncode == 0, up.stderr[-3000:]
        after = stack_pids()
        changed = {name for name in before if after[name] != before[name]}
        assert changed == {name for name in before if name.startswith("worker-")}, f"restarted: {changed}"
        for i in worker_indexes():
            environ = Path(f"/proc/{after[f'worker-{i}']}/environ").read_bytes().split(b"\0")
            assert b"STOCKROOM_WORKER_POLL_INTERVAL=0.35" in environ
            # Nothing of `up`'s own environment but the settings it passes (the test's variables are in it).
            assert not [v for v in environ if v.startswith((b"STOCKROOM_STACK=", b"STOCKROOM_URL=", b"PYTEST"))], environ
    finally:
        back = run_stack("up")
        assert back.returncode == 0, back.stderr[-3000:]
    final = stack_pids()
    assert {n: final[n] for n in final if not n.startswith("worker-")} == {n: before[n] for n in before if not n.startswith("worker-")}


def _capped_logs() -> tuple[set[Path], set[Path]]:
    """The log files supervisord caps (with their size limits checked) and those logrotate rotates."""
    conf = supervisord_conf()
    d = stack_dir()
    capped: set[Path] = set()
    sup = conf["supervisord"]
    assert int(sup["logfile_maxbytes"].removesuffix("MB")) > 0 and int(sup["logfile_backups"]) > 0, dict(sup)
    capped.add(Path(sup["logfile"]))
    for section in conf.sections():
        if not section.startswith("program:"):
            continue
        p = conf[section]
        name = section.split(":", 1)[1]
        assert p.get("redirect_stderr") == "true", f"{name}: stderr not in its capped log"
        maxbytes = p.get("stdout_logfile_maxbytes", "0")
        assert re.fullmatch(r"[1-9]\d*MB", maxbytes) and int(p.get("stdout_logfile_backups", "0")) > 0, (
            f"{name}: its log is not capped ({maxbytes}, backups {p.get('stdout_logfile_backups')})")
        first = int(p.get("numprocs_start", "0"))
        for n in range(first, first + int(p.get("numprocs", "1"))):
            capped.add(Path(p["stdout_logfile"].replace("%(process_num)d", str(n))))
    rotated: set[Path] = set()
    text = (d / "logrotate.conf").read_text()
    for m in re.finditer(r"^(/\S+(?: /\S+)*) \{(.*?)^\}", text, re.M | re.S):
        assert re.search(r"^\s*size \d+M\s*$", m.group(2), re.M) and re.search(r"^\s*rotate [1-9]", m.group(2), re.M), m.group(0)
        rotated |= {Path(p) for p in m.group(1).split()}
    return capped, rotated


def test_every_log_of_the_stack_is_capped():
    d = stack_dir()
    capped, rotated = _capped_logs()
    # The files nginx writes itself (its access and error logs) are logrotate's.
    nginx_conf = (d / "nginx" / "nginx.conf").read_text()
    nginx_logs = {Path(p) for p in re.findall(r"^\s*(?:access_log|error_log)\s+(/\S+?)[;\s]", nginx_conf, re.M)}
    assert nginx_logs and nginx_logs <= rotated, f"nginx logs {nginx_logs} not all in logrotate.conf ({rotated})"
    # Every log file in the stack dir is one of them (rotated copies aside).
    files = {p for p in d.rglob("*.log") if "mariadb/data" not in str(p)}
    assert files, d
    stray = {p for p in files if p not in capped | rotated}
    assert not stray, f"log files neither capped by supervisord nor rotated: {sorted(map(str, stray))}"


def test_nginx_access_log_is_rotated_past_its_size():
    d = stack_dir()
    capped, rotated = _capped_logs()
    access = next(p for p in rotated if p.name == "access.log")
    limit = int(re.search(r"^\s*size (\d+)M", (d / "logrotate.conf").read_text(), re.M).group(1)) << 20
    with open(access, "ab") as f:
        chunk = b"# filler past the rotation size\n" * 32768
        written = 0
        while written <= limit:
            f.write(chunk)
            written += len(chunk)
    # The loop runs logrotate at its start: a restart is a rotation now rather than within a minute.
    restart = run_stack("supervisorctl", "restart", "logrotate")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    old = access.with_name("access.log.1")
    assert wait_for(lambda: old.exists() and old.stat().st_size > limit, 10, 0.1), f"{old} not written"
    # nginx reopened its log: a new request lands in a new, small access.log.
    marker = f"rotation-{time.monotonic_ns()}"

    def logged() -> bool:
        requests.get(base_url() + "/health/live", headers={"X-Request-Id": marker}, timeout=5)
        return access.exists() and marker in access.read_text(errors="replace")
    assert wait_for(logged, 10, 0.2), f"nginx did not write to a new {access} after the rotation"
    assert access.stat().st_size < limit
    assert marker not in old.read_text(errors="replace")
