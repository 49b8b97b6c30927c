"""Issue 3: the background worker — orders reach `processed`; the dev stack's two workers
(STOCKROOM_WORKERS=2: $STACK_DIR/worker-N.pid, worker-N.log) process each order exactly once."""

import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from stockroom_kit.client import (
    ORDERS,
    Api,
    assert_order,
    assert_same_order,
    assert_status,
    order_body,
    order_path,
    place_order,
    wait_order_status,
)
from stockroom_kit.metrics import worker_address_in
from stockroom_kit.stack import (
    exit_status,
    log_size,
    pid_alive,
    proc_comm,
    read_log_from,
    read_pid,
    stack_dir,
    supervisord_log,
    wait_for,
)

PROCESS_NAME = "stockroom-worker"
# The kernel keeps 15 characters of a process name (TASK_COMM_LEN 16 with the NUL), so
# /proc/PID/comm of stockroom-worker reads "stockroom-worke"; the executable's name is whole.
COMM = PROCESS_NAME[:15]
WORKER_FILE = re.compile(r"^worker-\d+\.(pid|log)$")  # not worker-supervisor-N.pid
PROCESSED = re.compile(r"Order #(\d+) processed\b")


def _worker_pids():
    d = stack_dir()
    files = sorted(f for f in d.glob("worker-*.pid") if WORKER_FILE.match(f.name))
    assert files, (
        f"no worker-N.pid in {d}: the dev stack runs no stockroom-worker "
        f"(scripts/devstack.sh does not start STOCKROOM_WORKERS yet?)"
    )
    return {f.name: read_pid(f) for f in files}


def _processed_counts():
    counts = Counter()
    for log in sorted(f for f in stack_dir().glob("worker-*.log") if WORKER_FILE.match(f.name)):
        text = log.read_text(errors="replace")
        counts.update(int(m.group(1)) for m in PROCESSED.finditer(text))
    return counts


def test_two_workers_run_as_stockroom_worker():
    pids = _worker_pids()
    assert len(pids) >= 2, f"expected STOCKROOM_WORKERS=2 workers, found pid files {sorted(pids)}"
    for name, pid in pids.items():
        assert pid is not None and pid_alive(pid), f"{name}: {pid} is not a live process"
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        assert exe == PROCESS_NAME, f"{name}: pid {pid} runs {exe!r}"
        assert proc_comm(pid) == COMM, f"{name}: pid {pid} is named {proc_comm(pid)!r}"
    assert len(set(pids.values())) == len(pids), pids


def test_an_order_reaches_processed(api, make_product, customer_token):
    p = make_product(stock=5)
    o = assert_order(assert_status(place_order(api, order_body((p["id"], 1)), token=customer_token), 201),
                     status="pending")
    started = time.monotonic()
    done = wait_order_status(api, o["id"], "processed", token=customer_token, timeout=10)
    assert_same_order(done, o)
    assert time.monotonic() - started < 10


def test_two_workers_process_each_order_exactly_once(url, api, make_product, new_user, admin_token):
    _worker_pids()  # fail early, with the reason, when the stack has no workers
    p = make_product(stock=100)
    customers = [new_user("work") for _ in range(3)]

    def buy(i):
        client = Api(url, customers[i % len(customers)]["token"])
        try:
            return assert_status(place_order(client, order_body((p["id"], 1)), timeout=30), 201)["id"]
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(buy, range(30)))
    assert len(set(ids)) == 30

    # all 30 processed within 10 s
    pending = set(ids)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        body = assert_status(api.get(ORDERS, token=admin_token, params={"after": min(ids) - 1, "limit": 100}), 200)
        for o in body["items"]:
            if o["id"] in pending and o["status"] == "processed":
                pending.discard(o["id"])
        for oid in list(pending):
            if oid > max(o["id"] for o in body["items"]):  # beyond this page: ask one by one
                if assert_status(api.get(order_path(oid), token=admin_token), 200)["status"] == "processed":
                    pending.discard(oid)
        if pending:
            time.sleep(0.2)
    assert not pending, f"{len(pending)} of 30 orders not processed after 10 s: {sorted(pending)}"

    # each id logged exactly once across all worker logs (a line may trail the COMMIT by a moment)
    deadline = time.monotonic() + 5
    while True:
        counts = _processed_counts()
        if all(counts[i] >= 1 for i in ids) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # let a duplicate, if any, reach the log too
    counts = _processed_counts()
    wrong = {i: counts[i] for i in ids if counts[i] != 1}
    assert not wrong, f"'Order #<id> processed' lines per id (want exactly 1): {wrong}"


def test_worker_stops_cleanly_on_sigterm_and_is_restarted():
    import signal

    d = stack_dir()
    pid = read_pid(d / "worker-1.pid")
    assert pid is not None and pid_alive(pid)
    log = d / "worker-1.log"
    before = log.stat().st_size
    exits = log_size(supervisord_log())
    os.kill(pid, signal.SIGTERM)
    status = wait_for(lambda: exit_status("worker-1", exits), 15, 0.1)
    text = read_log_from(log, before)
    assert "stopped" in text, f"no clean stop logged after SIGTERM:\n{text[-2000:]}"
    assert status == "0", f"worker did not exit 0 but with {status}:\n{text[-2000:]}"
    # supervisord brings a new worker up (the stack is meant to keep one running).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = read_pid(d / "worker-1.pid")
        if new and new != pid and pid_alive(new):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("worker-1 was not restarted after its clean exit")
    # ... and the new worker serves again: it names its metrics address anew and answers there.
    def serving() -> bool:
        address = worker_address_in(read_log_from(log, before))
        try:
            return bool(address) and requests.get(f"http://{address}/metrics", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    assert wait_for(serving, 15, 0.1), f"the restarted worker-1 does not serve its metrics:\n{read_log_from(log, before)[-2000:]}"
