"""Issue 4, hardened deployment: the sd_notify protocol the Type=notify units rely on.

Each test starts one more stockroom-fcgi or stockroom-worker (from $BIN_DIR, .build/release by
default) beside the stack, with the stack's database environment ($STOCKROOM_STACK_DIR/env) plus
NOTIFY_SOCKET pointing at an AF_UNIX datagram socket this test binds (a path, or an abstract
`@name`), and WATCHDOG_USEC=400000 so that pings are due every 0.2 s. It plays systemd's part:

- READY=1 arrives once, and only when the FastCGI socket takes connections (a request sent right
  after READY is answered);
- WATCHDOG=1 arrives about every WATCHDOG_USEC/2, never later than WATCHDOG_USEC (systemd's deadline);
- every datagram comes from the main process (what NotifyAccess=main accepts; the credentials of
  a datagram sent by another thread still carry the process id);
- SIGTERM gives STOPPING=1 and exit status 0 within 15 s.

The extra processes log to $STOCKROOM_STACK_DIR/sd-notify-*.log and are killed in a finally.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from stockroom_kit.fastcgi import fcgi_params, fcgi_read_response, fcgi_request
from stockroom_kit.plugin import observe
from stockroom_kit.stack import stack_dir

WATCHDOG_USEC = 400_000
PING_INTERVAL = WATCHDOG_USEC / 2_000_000  # what the programs aim for: 0.2 s
DEADLINE = WATCHDOG_USEC / 1_000_000  # systemd would abort the process after this without a ping
START_TIMEOUT = 15
STOP_TIMEOUT = 15
# Variables that must not leak from the environment running the tests into the child.
SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


def bin_dir() -> Path:
    repo = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("BIN_DIR") or repo / ".build" / "release")


def stack_environment() -> dict[str, str]:
    """The variables $STOCKROOM_STACK_DIR/env exports (a shell file with %q-quoted values)."""
    env_file = stack_dir() / "env"
    assert env_file.is_file(), f"{env_file} missing: the stack writes it on `up`"
    out = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; env -0', "_", str(env_file)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True, timeout=10, check=True,
    ).stdout
    variables = dict(item.split(b"=", 1) for item in out.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in variables.items()
            if k.startswith(b"STOCKROOM_") or k in (b"LOG_LEVEL",)}


class NotifyListener:
    """systemd's side of $NOTIFY_SOCKET: a bound datagram socket; a thread records every message
    with its arrival time and the sender's pid (SO_PASSCRED), one entry per KEY=VALUE line."""

    def __init__(self, abstract: bool):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        name = f"sd-notify-{uuid.uuid4().hex[:12]}"
        if abstract:
            self.sock.bind("\0" + name)
            self.address = "@" + name
            self.path = None
        else:
            self.path = stack_dir() / f"{name}.sock"
            self.sock.bind(str(self.path))
            self.address = str(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, int | None, str]] = []  # (monotonic, sender pid, "KEY=VALUE")
        self.condition = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._receive, name="notify-listener", daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        ucred = struct.calcsize("iII")
        while not self.closing:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:ucred])[0]
            with self.condition:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if line:
                        self.messages.append((now, pid, line))
                self.condition.notify_all()

    def snapshot(self) -> list[tuple[float, int | None, str]]:
        with self.condition:
            return list(self.messages)

    def times(self, line: str) -> list[float]:
        return [t for t, _, text in self.snapshot() if text == line]

    def wait_for(self, line: str, timeout: float, process: subprocess.Popen | None = None) -> float:
        """Arrival time of the first `line`; fails after `timeout` s, or as soon as `process` exits."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for t, _, text in self.messages:
                    if text == line:
                        return t
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {line} within {timeout} s; got {[m[2] for m in self.messages]}")
                if process is not None and process.poll() is not None and line != "STOPPING=1":
                    raise AssertionError(f"the process exited ({process.returncode}) before {line}")
                self.condition.wait(min(remaining, 0.05))

    def close(self) -> None:
        self.closing = True
        self.thread.join(timeout=2)
        self.sock.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class Child:
    """One extra stockroom program beside the stack, with systemd's notify variables."""

    def __init__(self, program: str, listener: NotifyListener, extra: dict[str, str], tag: str):
        exe = bin_dir() / program
        assert os.access(exe, os.X_OK), f"{exe} not found: swift build -c release"
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_VARIABLES}
        env.update(stack_environment())
        env.update(extra)
        env["NOTIFY_SOCKET"] = listener.address
        self.log_path = stack_dir() / f"sd-notify-{tag}.log"
        self.log = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen([str(exe)], env=env, stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""

    def terminate_and_wait(self, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.log.close()


def summary(child: Child, ready: float, gaps: list[float], stopped: float) -> str:
    median = sorted(gaps)[len(gaps) // 2]
    return (f"READY=1 {ready - child.started:.2f} s after exec; {len(gaps) + 1} WATCHDOG=1 pings, gaps "
            f"median {median:.3f} s, max {max(gaps):.3f} s (deadline {DEADLINE} s); SIGTERM -> STOPPING=1, "
            f"exit 0 in {stopped:.2f} s")


def check_watchdog(listener: NotifyListener, pid: int, seconds: float) -> list[float]:
    """Watches WATCHDOG=1 pings for `seconds` after the first one; returns the gaps between them."""
    first = listener.wait_for("WATCHDOG=1", timeout=DEADLINE + 1)
    time.sleep(seconds)
    pings = [t for t in listener.times("WATCHDOG=1") if t >= first]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    expected = seconds / PING_INTERVAL
    assert len(pings) >= expected * 0.6, f"{len(pings)} pings in {seconds:.1f} s, expected ~{expected:.0f}: {gaps}"
    assert len(pings) <= expected * 1.6 + 2, f"{len(pings)} pings in {seconds:.1f} s, expected ~{expected:.0f}"
    median = sorted(gaps)[len(gaps) // 2]
    assert PING_INTERVAL * 0.75 <= median <= PING_INTERVAL * 1.5, f"median gap {median:.3f} s: {gaps}"
    assert max(gaps) < DEADLINE, f"a gap of {max(gaps):.3f} s: systemd would have aborted the process ({gaps})"
    senders = {p for _, p, text in listener.snapshot() if text == "WATCHDOG=1"}
    assert senders == {pid}, f"pings sent by {senders}, the main process is {pid} (NotifyAccess=main)"
    return gaps


def check_stop(listener: NotifyListener, child: Child) -> float:
    code, elapsed = child.terminate_and_wait(STOP_TIMEOUT)
    assert code == 0, f"exit status {code} after SIGTERM:\n{child.log_tail()}"
    listener.wait_for("STOPPING=1", timeout=1)
    assert len(listener.times("READY=1")) == 1, "READY=1 sent more than once"
    senders = {p for _, p, _ in listener.snapshot()}
    assert senders == {child.pid}, f"datagrams from {senders}, the main process is {child.pid}"
    return elapsed


def fastcgi_health(socket_path: Path) -> int | None:
    """GET /health/live straight on the responder socket; the HTTP status it answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(socket_path))  # raises (ENOENT, ECONNREFUSED) if not listening yet
        s.sendall(fcgi_request(fcgi_params("GET", "/health/live")))
        return fcgi_read_response(s).status


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_responder_ready_after_listening_watchdog_and_stopping(abstract):
    tag = f"fcgi-{uuid.uuid4().hex[:8]}"
    fcgi_socket = stack_dir() / f"sd-notify-{tag}.sock"
    listener = NotifyListener(abstract)
    child = None
    try:
        child = Child("stockroom-fcgi", listener, {
            "STOCKROOM_SOCKET": str(fcgi_socket),
            "STOCKROOM_THREADS": "4",
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
        }, tag)
        try:
            ready = listener.wait_for("READY=1", START_TIMEOUT, child.process)
            # Right after READY (no sleep): the socket must already take and answer a request.
            status = fastcgi_health(fcgi_socket)
        except (AssertionError, OSError) as error:
            raise AssertionError(f"{error}\n--- log:\n{child.log_tail()}") from error
        assert status == 200, f"GET /health/live right after READY=1: {status}"
        statuses = [text for _, _, text in listener.snapshot() if text.startswith("STATUS=")]
        assert statuses and str(fcgi_socket) in statuses[0], f"STATUS= with READY=1: {statuses}"

        gaps = check_watchdog(listener, child.pid, 2.0)
        for _ in range(5):
            assert fastcgi_health(fcgi_socket) == 200
        elapsed = check_stop(listener, child)
        assert elapsed < STOP_TIMEOUT
        assert not fcgi_socket.exists(), "the responder left its socket behind"
        observe(f"sd_notify stockroom-fcgi ({'abstract @name' if abstract else 'path'}): "
                f"{summary(child, ready, gaps, elapsed)}; GET /health/live right after READY: {status}")
    finally:
        if child is not None:
            child.kill()
        listener.close()
        fcgi_socket.unlink(missing_ok=True)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_worker_ready_watchdog_and_stopping(abstract):
    tag = f"worker-{uuid.uuid4().hex[:8]}"
    listener = NotifyListener(abstract)
    child = None
    try:
        # A worker like the stack's (it may claim a pending order, as a second worker would).
        # No processing delay: the main loop, and so the ping, comes round every poll interval.
        child = Child("stockroom-worker", listener, {
            "STOCKROOM_PROCESS_DELAY": "0",
            "STOCKROOM_WORKER_POLL_INTERVAL": "0.05",
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
        }, tag)
        try:
            ready = listener.wait_for("READY=1", START_TIMEOUT, child.process)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- log:\n{child.log_tail()}") from error
        gaps = check_watchdog(listener, child.pid, 2.0)
        elapsed = check_stop(listener, child)
        assert elapsed < STOP_TIMEOUT
        observe(f"sd_notify stockroom-worker ({'abstract @name' if abstract else 'path'}): "
                f"{summary(child, ready, gaps, elapsed)}")
    finally:
        if child is not None:
            child.kill()
        listener.close()


def test_watchdog_usec_for_another_pid_is_ignored():
    """sd_watchdog_enabled(3): WATCHDOG_USEC only applies when WATCHDOG_PID is unset or our pid
    (a variable inherited from a parent must not make a child ping)."""
    tag = f"worker-{uuid.uuid4().hex[:8]}"
    listener = NotifyListener(abstract=False)
    child = None
    try:
        child = Child("stockroom-worker", listener, {
            "STOCKROOM_PROCESS_DELAY": "0",
            "STOCKROOM_WORKER_POLL_INTERVAL": "0.05",
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
            "WATCHDOG_PID": "1",
        }, tag)
        listener.wait_for("READY=1", START_TIMEOUT, child.process)
        time.sleep(4 * PING_INTERVAL)
        assert listener.times("WATCHDOG=1") == [], "pinged although WATCHDOG_PID names another process"
        check_stop(listener, child)
    finally:
        if child is not None:
            child.kill()
        listener.close()
