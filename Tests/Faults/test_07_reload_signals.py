"""Fault 7: the operator's signals other than SIGTERM, under load (issue 8, item 4).

systemd starts a service with every signal at its default action, so before this fix SIGHUP,
SIGUSR1, SIGUSR2 and SIGQUIT killed stockroom-fcgi and stockroom-worker (HUP: exit 129, which
systemd's Restart=on-failure does not restart; the socket file stayed and nginx answered 502).
The dev stack's supervisord starts them the same way (env --default-signal), so this suite sees what
production would. Now:
- SIGHUP and SIGUSR2 reload: the process re-reads $STOCKROOM_ENV_FILE (the stack's responder.env /
  worker.env) and goes on with the new settings, same PID, same socket (same inode: never unlinked
  or rebound). Each responder thread moves to the new settings after the request it is serving;
  the kept-alive nginx connections stay open, so nginx never sees a connection close under a
  request. Clients see no 5xx at all, and the books balance.
- SIGUSR1 is logged (logs go to stderr, nothing to reopen) and changes nothing.
- SIGQUIT stops gracefully like SIGTERM (exit 0, supervisord restarts the process); SIGPIPE is
  ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import stat
import threading
import time
from pathlib import Path

import requests

from stockroom_kit.chaos import (
    LOAD_STOCKS,
    NORMAL,
    OrderLoad,
    allow,
    assert_answers,
    executed_despite,
    fcgi_health,
    verify_books,
)
from stockroom_kit.client import (
    PASSWORD,
    Api,
    assert_status,
    parse_ts,
    register,
    unique_name,
    wait_order_status,
)
from stockroom_kit.fastcgi import fcgi_call
from stockroom_kit.stack import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    base_url,
    exit_status,
    log_size,
    max_order_id,
    pid_alive,
    proc_comm,
    read_log_from,
    read_pid,
    responder_pid,
    responder_socket,
    stack_dir,
    stockroom_connections,
    supervisord_log,
    wait_for,
    wait_new_responder,
)

WORKER = "stockroom-worke"  # /proc/PID/comm keeps 15 characters
THREADS = int(os.environ.get("STOCKROOM_THREADS", "32"))


# ---------------------------------------------------------------------------- helpers


class EnvFile:
    """One of the stack's settings files (what $STOCKROOM_ENV_FILE names); restored afterwards."""

    def __init__(self, name: str):
        self.path = stack_dir() / name
        self.original = self.path.read_text()

    def set(self, name: str, value: str) -> None:
        lines = [l for l in self.path.read_text().splitlines() if not re.match(rf"^(export )?{name}=", l)]
        lines.append(f"export {name}={value}")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.path)

    def restore(self) -> None:
        self.path.write_text(self.original)


def socket_inode(index: int) -> int:
    st = os.stat(responder_socket(index))
    assert stat.S_ISSOCK(st.st_mode), f"{responder_socket(index)} is not a socket"
    return st.st_ino


def worker_pid() -> int:
    pid = read_pid(stack_dir() / "worker-1.pid")
    assert pid is not None and proc_comm(pid) == WORKER, f"worker-1.pid names {pid} ({proc_comm(pid) if pid else None!r})"
    return pid


def wait_log(path: Path, offset: int, pattern: str, seconds: float) -> re.Match | None:
    return wait_for(lambda: re.search(pattern, read_log_from(path, offset)), seconds, 0.02)


def session_lifetime(index: int, username: str) -> float:
    """Seconds from now to the expires_at of a new login made straight on responder `index`."""
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    r = fcgi_call(responder_socket(index), "POST", "/api/v1/auth/login", body=body, content_type="application/json")
    assert r.status == 200, f"login on fcgi-{index}: {r.status} {r.body[:200]!r}"
    expires = parse_ts(r.json()["expires_at"])
    return (expires - dt.datetime.now(dt.timezone.utc)).total_seconds()


class GetLoad:
    """Concurrent GETs through nginx (product reads and /health), next to the order load."""

    def __init__(self, products: list[int], threads: int = 4):
        self.products = products
        self.threads = threads
        self.statuses: list[int | None] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> "GetLoad":
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, args=(i,), daemon=True, name=f"get-{i}")
            self._workers.append(t)
            t.start()
        return self

    def _loop(self, index: int) -> None:
        session = requests.Session()
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                path = "/health" if n % 3 == 0 else f"/api/v1/products/{self.products[(index + n) % len(self.products)]}"
                try:
                    status = session.get(base_url() + path, timeout=(CONNECT_TIMEOUT, REQUEST_TIMEOUT)).status_code
                except requests.RequestException:
                    status = None
                with self._lock:
                    self.statuses.append(status)
        finally:
            session.close()

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(REQUEST_TIMEOUT + 5)

    def counts(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for s in self.statuses:
                out[str(s)] = out.get(str(s), 0) + 1
            return out


def reload_responder(index: int, pid: int, sig: int, offset: int, seconds: float = 15) -> tuple[int, int]:
    """Sends `sig` and waits for the responder's reload log lines; returns (reload ms, roll-over ms)."""
    log = stack_dir() / f"fcgi-{index}.log"
    exits = log_size(supervisord_log())
    os.kill(pid, sig)
    done = wait_log(log, offset, r"reload complete.*rollover\.ms=(\d+)", seconds)
    reloaded = re.search(r"reloaded: new requests get the new settings.*reload\.ms=(\d+)", read_log_from(log, offset))
    assert reloaded and done, (
        f"fcgi-{index} (pid {pid}) did not reload within {seconds} s of {signal.Signals(sig).name}: "
        f"alive: {pid_alive(pid)}, supervisord saw it exit with {exit_status(f'responder-{index}', exits)}; "
        f"log since the signal:\n{read_log_from(log, offset)[-2000:]}"
    )
    return int(reloaded.group(1)), int(done.group(1))


# ---------------------------------------------------------------------------- cases


def test_reload_responders_under_load(admin_api, customer_tokens, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    baseline = max_order_id()
    pids = {i: responder_pid(i) for i in (1, 2)}
    inodes = {i: socket_inode(i) for i in (1, 2)}
    env = EnvFile("responder.env")
    user = unique_name("reload")
    client = Api()
    assert_status(register(client, user), 201)
    client.close()

    load = OrderLoad(customer_tokens, list(initial)).start()
    gets = GetLoad(list(initial)).start()
    timings: list[tuple[str, int, int, int]] = []
    lifetimes: list[str] = []
    connections: list[int] = []
    try:
        time.sleep(2)
        # Each responder in turn, three times: HUP, USR2, HUP, each with a new session lifetime.
        for round_, sig in enumerate((signal.SIGHUP, signal.SIGUSR2, signal.SIGHUP)):
            for index in (1, 2):
                ttl = 5000 + 100 * round_ + index
                env.set("STOCKROOM_SESSION_TTL", str(ttl))
                offset = log_size(stack_dir() / f"fcgi-{index}.log")
                reload_ms, rollover_ms = reload_responder(index, pids[index], sig, offset)
                timings.append((signal.Signals(sig).name, index, reload_ms, rollover_ms))
                assert responder_pid(index) == pids[index], f"fcgi-{index} was replaced"
                assert socket_inode(index) == inodes[index], f"fcgi-{index}'s socket was recreated"
                seen = session_lifetime(index, user)
                assert abs(seen - ttl) < 10, f"fcgi-{index}: new login lives {seen:.0f} s after the reload, want {ttl}"
                lifetimes.append(f"fcgi-{index} {ttl}")
                connections.append(len(stockroom_connections()))
                time.sleep(1)
            if round_ == 0:
                # SIGUSR1: logged, nothing re-read (the lifetime written meanwhile does not apply).
                env.set("STOCKROOM_SESSION_TTL", "7777")
                for index in (1, 2):
                    offset = log_size(stack_dir() / f"fcgi-{index}.log")
                    os.kill(pids[index], signal.SIGUSR1)
                    assert wait_log(stack_dir() / f"fcgi-{index}.log", offset, r"nothing to reopen.*signal=SIGUSR1", 5), (
                        f"fcgi-{index} did not log SIGUSR1 (alive: {pid_alive(pids[index])})"
                    )
                    assert responder_pid(index) == pids[index]
                    seen = session_lifetime(index, user)
                    assert abs(seen - (5000 + index)) < 10, f"fcgi-{index}: SIGUSR1 changed the settings ({seen:.0f} s)"
        time.sleep(2)
    finally:
        hung = load.stop()
        gets.stop()
        env.restore()
        for index in (1, 2):
            if pid_alive(pids[index]):
                offset = log_size(stack_dir() / f"fcgi-{index}.log")
                os.kill(pids[index], signal.SIGHUP)
                wait_log(stack_dir() / f"fcgi-{index}.log", offset, r"reload complete", 15)

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers", load.counts())
    case_report.add("GETs", gets.counts())
    case_report.add("reloads", ", ".join(f"{s} fcgi-{i} {r} ms (all threads moved after {o} ms)" for s, i, r, o in timings))
    case_report.add("session lifetime after each reload", ", ".join(lifetimes))
    case_report.add("database connections after each reload", f"{connections} (2 x {THREADS} threads + worker)")
    # No 5xx at all: the socket never closed, no connection was dropped under a request.
    assert_answers(load, NORMAL)
    bad_gets = {k: v for k, v in gets.counts().items() if k != "200"}
    assert not bad_gets, f"GETs answered other than 200: {bad_gets}"
    assert max(connections) <= 2 * THREADS + 4, f"database connections grew across reloads: {connections}"
    books = verify_books(admin_api, initial, load, baseline)
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})


def test_reload_worker_keeps_processing(admin_api, customer_tokens, make_products, case_report):
    products = make_products(1000)
    product = next(iter(products))
    pid = worker_pid()
    log = stack_dir() / "worker-1.log"
    env = EnvFile("worker.env")
    load = OrderLoad(customer_tokens, list(products), threads=4)
    seen = []
    try:
        for n, sig in enumerate((signal.SIGHUP, signal.SIGUSR2, signal.SIGUSR1)):
            interval = f"0.{n + 1}5"
            env.set("STOCKROOM_WORKER_POLL_INTERVAL", interval)
            offset = log_size(log)
            exits = log_size(supervisord_log())
            os.kill(pid, sig)
            if sig == signal.SIGUSR1:
                pattern = r"nothing to reopen.*signal=SIGUSR1"
            else:
                pattern = rf"msg=\"reloaded\".*poll\.interval={re.escape(interval)}.*signal={signal.Signals(sig).name}"
            assert wait_log(log, offset, pattern, 10), (
                f"the worker (pid {pid}) did not log {pattern!r} within 10 s of {signal.Signals(sig).name}: "
                f"alive: {pid_alive(pid)}, supervisord saw it exit with {exit_status('worker-1', exits)}"
            )
            assert worker_pid() == pid, "the worker was replaced"
            # It goes on processing: an order placed now is processed.
            a = load.place_once(product, thread=n)
            assert a.status == 201, a
            wait_order_status(admin_api, a.order_id, "processed", timeout=10)
            seen.append(f"{signal.Signals(sig).name}: same pid, order {a.order_id} processed")
    finally:
        env.restore()
        if pid_alive(pid):
            os.kill(pid, signal.SIGHUP)
    case_report.add("worker", "; ".join(seen))


def test_sigquit_stops_gracefully_and_sigpipe_is_ignored(admin_api, customer_tokens, make_products, case_report):
    # SIGPIPE: ignored by both programs.
    fcgi = responder_pid(1)
    worker = worker_pid()
    for pid in (fcgi, worker):
        os.kill(pid, signal.SIGPIPE)
    time.sleep(1)
    assert pid_alive(fcgi) and responder_pid(1) == fcgi, "SIGPIPE ended stockroom-fcgi"
    assert pid_alive(worker) and worker_pid() == worker, "SIGPIPE ended stockroom-worker"
    assert fcgi_health(1) == 200
    case_report.add("SIGPIPE", "ignored by stockroom-fcgi and stockroom-worker")

    # SIGQUIT to a responder under load: the same graceful stop as SIGTERM (test_06), exit 0.
    initial = make_products(*LOAD_STOCKS)
    baseline = max_order_id()
    offset = log_size(supervisord_log())
    load = OrderLoad(customer_tokens, list(initial)).start()
    try:
        time.sleep(2)
        t_quit = time.monotonic()
        os.kill(fcgi, signal.SIGQUIT)
        status = wait_for(lambda: exit_status("responder-1", offset), 15, 0.02)
        t_exit = time.monotonic()
        new = wait_new_responder(1, fcgi, 10)
        healthy = wait_for(lambda: fcgi_health(1, timeout=2) == 200, 10, 0.05)
        time.sleep(2)
    finally:
        hung = load.stop()
    assert not hung, f"load threads still waiting after every timeout: {hung}"
    assert status == "0", f"stockroom-fcgi exit status after SIGQUIT: {status}"
    assert new is not None and healthy, "fcgi-1 was not restarted and healthy within 10 s"
    case_report.add("SIGQUIT fcgi-1", f"exit status 0 logged {t_exit - t_quit:.2f} s after the signal; pid {fcgi} -> {new}")
    case_report.add("answers", load.counts())
    # As for SIGTERM: POSTs written into the closing socket get 502 and were not executed.
    assert_answers(load, allow(("order", 502, "bad_gateway"), ("cancel", 502, "bad_gateway")))
    books = verify_books(admin_api, initial, load, baseline)
    count, executed = executed_despite(load, books["_order_of_key"], 502)
    assert not executed, f"POSTs answered 502 that were executed anyway: {executed}"

    # SIGQUIT to the worker: it finishes its batch, exits 0, and supervisord starts a new one.
    woffset = log_size(supervisord_log())
    os.kill(worker, signal.SIGQUIT)
    wstatus = wait_for(lambda: exit_status("worker-1", woffset), 15, 0.02)
    assert wstatus == "0", f"stockroom-worker exit status after SIGQUIT: {wstatus}"
    replaced = wait_for(lambda: (p := read_pid(stack_dir() / "worker-1.pid")) and p != worker and proc_comm(p) == WORKER and p, 10)
    assert replaced, "the worker was not restarted"
    a = load.place_once(next(iter(initial)), thread=0)
    assert a.status == 201, a
    wait_order_status(admin_api, a.order_id, "processed", timeout=15)
    case_report.add("SIGQUIT worker", f"exit status 0; pid {worker} -> {replaced}; processing goes on")
