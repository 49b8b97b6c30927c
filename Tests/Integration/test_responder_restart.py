"""Issue 2: a crashed responder process is restarted by its supervisor (the dev stack)."""

import os
import signal
import time

from stockroom_kit.client import assert_status
from stockroom_kit.stack import pid_alive, proc_comm, read_pid, stack_dir

PROCESS_NAME = "stockroom-fcgi"


def test_killed_responder_is_restarted(api):
    d = stack_dir()
    pid_file = d / "fcgi-1.pid"
    old = read_pid(pid_file)
    assert old is not None, f"no pid in {pid_file}"
    assert proc_comm(old) == PROCESS_NAME, f"pid {old} is {proc_comm(old)!r}"
    supervisor = read_pid(d / "supervisor-1.pid")

    os.kill(old, signal.SIGKILL)

    deadline = time.monotonic() + 10
    new = None
    while time.monotonic() < deadline:
        pid = read_pid(pid_file)
        if pid is not None and pid != old and proc_comm(pid) == PROCESS_NAME:
            new = pid
            break
        time.sleep(0.1)
    assert new is not None, f"{pid_file} still names {read_pid(pid_file)} 10 s after SIGKILL of {old}"
    assert not pid_alive(old)
    if supervisor is not None:
        assert pid_alive(supervisor), "the supervisor died with its responder"

    healthy = None
    while time.monotonic() < deadline + 5:
        try:
            r = api.get("/health", timeout=5)
            if r.status_code == 200:
                healthy = r
                break
        except Exception:
            pass
        time.sleep(0.1)
    assert healthy is not None, "/health not 200 after the restart"
    assert assert_status(healthy, 200) == {"status": "healthy", "database": "up"}

    # the restarted process keeps running and the service answers steadily
    for _ in range(20):
        assert_status(api.get("/health"), 200)
        assert_status(api.get("/api/v1/products"), 200)
    assert read_pid(pid_file) == new and proc_comm(new) == PROCESS_NAME
