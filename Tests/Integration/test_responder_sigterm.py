"""Issue 2: SIGTERM to a responder process stops accepting, lets in-flight requests finish,
closes its database connections and exits 0 within a bound; the service keeps answering."""

import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.client import Api, assert_status, login, register, unique_name
from stockroom_kit.stack import proc_comm, read_pid, stack_dir

PROCESS_NAME = "stockroom-fcgi"


def test_sigterm_finishes_in_flight_requests_and_exits_zero():
    d = stack_dir()
    pid_file = d / "fcgi-1.pid"
    log_file = d / "fcgi-1.log"
    pid = read_pid(pid_file)
    assert pid is not None and proc_comm(pid) == PROCESS_NAME
    log_before = log_file.stat().st_size

    setup = Api()
    name = unique_name("term")
    assert_status(register(setup, name), 201)

    # Logins cost an argon2id verify (tens of ms): 24 of them are in flight on both processes
    # when the signal lands.
    start = threading.Barrier(25)

    def one_login(_):
        client = Api()
        try:
            start.wait(timeout=10)
            return login(client, name).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=24) as pool:
        futures = [pool.submit(one_login, i) for i in range(24)]
        start.wait(timeout=10)
        time.sleep(0.02)
        os.kill(pid, signal.SIGTERM)
        statuses = [f.result(timeout=30) for f in futures]
    assert statuses == [200] * 24, f"in-flight logins across a SIGTERM: {statuses}"

    # The process exits by itself, with status 0, well within the shutdown bound.
    deadline = time.monotonic() + 15
    exit_line = None
    while time.monotonic() < deadline and exit_line is None:
        with open(log_file, "rb") as f:
            f.seek(log_before)
            text = f.read().decode("utf-8", "replace")
        m = re.search(r"stockroom-fcgi exited \(status (\d+)\)", text)
        if m:
            exit_line = m
        else:
            time.sleep(0.1)
    assert exit_line is not None, "the responder did not exit within 15 s of SIGTERM"
    assert exit_line.group(1) == "0", f"exit status {exit_line.group(1)}"
    assert '"stopped"' in text or " stopped" in text, f"no clean stop logged:\n{text[-2000:]}"

    # Reads keep succeeding while the supervisor brings the process back.
    client = Api()
    for _ in range(40):
        assert_status(client.get("/health/live"), 200)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = read_pid(pid_file)
        if new and new != pid and proc_comm(new) == PROCESS_NAME:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the responder was not restarted after its clean exit")
    client.close()
    setup.close()
