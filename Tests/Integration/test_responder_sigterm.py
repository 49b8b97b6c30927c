"""Issue 2: SIGTERM to a responder process stops accepting, lets in-flight requests finish,
closes its database connections and exits 0 within a bound; the service keeps answering."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from stockroom_kit.client import Api, assert_status, login, register, unique_name
from stockroom_kit.stack import (
    exit_status,
    log_size,
    proc_comm,
    read_log_from,
    read_pid,
    stack_dir,
    supervisord_log,
    wait_for,
)

PROCESS_NAME = "stockroom-fcgi"


def test_sigterm_finishes_in_flight_requests_and_exits_zero():
    d = stack_dir()
    pid_file = d / "fcgi-1.pid"
    log_file = d / "fcgi-1.log"
    pid = read_pid(pid_file)
    assert pid is not None and proc_comm(pid) == PROCESS_NAME
    log_before = log_file.stat().st_size
    exits_before = log_size(supervisord_log())

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
    status = wait_for(lambda: exit_status("responder-1", exits_before), 15, 0.1)
    text = read_log_from(log_file, log_before)
    assert status is not None, "the responder did not exit within 15 s of SIGTERM"
    assert status == "0", f"exit status {status}"
    assert '"stopped"' in text or " stopped" in text, f"no clean stop logged:\n{text[-2000:]}"

    # Reads keep succeeding while supervisord brings the process back.
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
