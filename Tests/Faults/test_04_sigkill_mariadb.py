"""Fault 4: SIGKILL MariaDB mid-load.

/health answers 503 within 2 s of the kill; API calls answer 503 database_unavailable in the
contract's error shape (Retry-After), never 500 and never a hang past the timeouts. `stack up`
(what `make up` runs) brings MariaDB back (InnoDB crash recovery); the responders reconnect by
themselves (same pids) and /health is 200 within 10 s of MariaDB answering again. Every order
acknowledged with 201 before the crash is still there (innodb_flush_log_at_trx_commit=1).
"""

import os
import signal
import subprocess
import threading
import time

from stockroom_kit.chaos import (
    LOAD_STOCKS,
    OrderLoad,
    allow,
    assert_answers,
    executed_despite,
    fcgi_health,
    verify_books,
)
from stockroom_kit.client import Api
from stockroom_kit.stack import (
    mariadb_pid,
    max_order_id,
    pid_alive,
    read_pid,
    responder_pid,
    run_stack,
    stack_dir,
    stack_env,
    wait_for,
)

DOWN_SECONDS = 4


class HealthPoller(threading.Thread):
    """GET /health through nginx every 50 ms: (sent, answered, status or None)."""

    def __init__(self):
        super().__init__(daemon=True, name="health-poller")
        self.samples: list[tuple[float, float, int | None]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        api = Api()
        try:
            while not self.stop.is_set():
                t = time.monotonic()
                try:
                    status = api.get("/health", timeout=(5, 10)).status_code
                except Exception:  # noqa: BLE001 - recorded as no answer
                    status = None
                self.samples.append((t, time.monotonic(), status))
                self.stop.wait(0.05)
        finally:
            api.close()


def database_answers() -> bool:
    sock = stack_env()["STOCKROOM_DB_SOCKET"]
    return subprocess.run(["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-B", "-e", "SELECT 1"],
                          capture_output=True, timeout=5).returncode == 0


def test_sigkill_mariadb_mid_load(admin_api, customer_tokens, make_products, case_report):
    initial = make_products(*LOAD_STOCKS)
    baseline = max_order_id()
    responders = {i: responder_pid(i) for i in (1, 2)}
    db = mariadb_pid()

    poller = HealthPoller()
    load = OrderLoad(customer_tokens, list(initial)).start()
    poller.start()
    up = None
    t_db_back = None
    health_back: dict[int, float | None] = {}
    try:
        time.sleep(3)
        t_kill = time.monotonic()
        os.kill(db, signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(db), 5), "MariaDB survived SIGKILL"
        time.sleep(DOWN_SECONDS)

        t_up = time.monotonic()
        watcher_stop = threading.Event()
        back_at: list[float] = []

        def watch_db():
            while not watcher_stop.is_set() and not back_at:
                try:
                    if database_answers():
                        back_at.append(time.monotonic())
                except Exception:  # noqa: BLE001
                    pass
                watcher_stop.wait(0.05)

        backer = threading.Thread(target=watch_db, daemon=True)
        backer.start()
        up = run_stack("up", timeout=120)
        t_up_done = time.monotonic()
        watcher_stop.set()
        backer.join(5)
        t_db_back = back_at[0] if back_at else t_up_done
        for i in (1, 2):
            health_back[i] = wait_for(lambda: fcgi_health(i, timeout=2) == 200 and time.monotonic(), 10, 0.05)
        time.sleep(3)
    finally:
        hung = load.stop()
        poller.stop.set()
        poller.join(15)

    assert not hung, f"load threads still waiting after every timeout: {hung}"
    case_report.add("answers", load.counts())
    assert up is not None and up.returncode == 0, f"stack up failed ({up and up.returncode}):\n{up and up.stderr[-3000:]}"
    new_db = read_pid(stack_dir() / "mariadb.pid")
    case_report.add("MariaDB", f"pid {db} killed; `stack up` took {t_up_done - t_up:.2f} s (new pid {new_db}), "
                               f"answering {t_db_back - t_up:.2f} s after it started")

    # /health: 503 within 2 s of the kill, every answer quick, 200 again after the restart.
    samples = poller.samples
    first_503 = next((s for s in samples if s[0] >= t_kill and s[2] == 503), None)
    assert first_503 is not None, f"/health never answered 503 after the kill: {samples[-20:]}"
    assert first_503[1] - t_kill <= 2, f"/health answered 503 only {first_503[1] - t_kill:.2f} s after the kill"
    during = [s for s in samples if t_kill <= s[0] < t_up]
    assert all(s[2] in (200, 503) for s in during), f"/health answers while down: {sorted({s[2] for s in during}, key=str)}"
    assert all(s[1] - s[0] < 5 for s in samples), f"/health took {max(s[1] - s[0] for s in samples):.2f} s"
    late_200 = [s for s in during if s[2] == 200 and s[0] > first_503[1]]
    assert not late_200, f"/health said 200 while MariaDB was down: {late_200[:3]}"
    case_report.add("/health", f"503 {first_503[1] - t_kill:.2f} s after the kill; slowest answer "
                               f"{max(s[1] - s[0] for s in samples):.3f} s; "
                               f"{sum(1 for s in during if s[2] == 503)} x 503 while down")

    # The responders reconnected by themselves: same processes, /health 200 on each socket.
    assert {i: responder_pid(i) for i in (1, 2)} == responders, "a responder was restarted"
    for i in (1, 2):
        assert health_back[i], f"fcgi-{i} /health not 200 within 10 s after MariaDB came back"
        assert health_back[i] - t_db_back <= 10
    case_report.add("recovery", ", ".join(
        f"fcgi-{i} (same pid {responders[i]}) /health 200 {max(0.0, health_back[i] - t_db_back):.2f} s after MariaDB answered"
        for i in (1, 2)))

    # API calls while down: 503 database_unavailable with Retry-After, JSON; never 500, never a hang.
    assert_answers(load, allow(("order", 503, "database_unavailable"), ("cancel", 503, "database_unavailable"),
                               ("read", 503, "database_unavailable")))
    unavailable = [a for a in load.select() if a.status == 503]
    assert unavailable, "no API call answered 503 while MariaDB was down"
    assert all(a.retry_after for a in unavailable), "503 database_unavailable without Retry-After"
    case_report.add("API while down", f"{len(unavailable)} x 503 database_unavailable, slowest "
                                      f"{max(a.latency for a in unavailable):.3f} s; max latency overall "
                                      f"{load.max_latency():.2f} s")
    before = {a.key for a in load.select("order") if a.status == 201 and a.end < t_kill}
    case_report.add("durability", f"{len(before)} orders acknowledged before the crash")

    books = verify_books(admin_api, initial, load, baseline)
    count, executed = executed_despite(load, books["_order_of_key"], 503)
    case_report.add("503'd orders", f"{count}; {len(executed)} of them had been committed when the connection "
                                    f"was lost (the retry with the same Idempotency-Key replayed the order)")
    case_report.add("checks", {k: v for k, v in books.items() if not k.startswith("_")})
