"""The cluster fault suite's hosts (issue 11): the Galera nodes, the app hosts and the front nginx
that scripts/cluster-chaos-test.sh starts, each in its network namespace (stockroom_kit.netns).

The script sets, besides STOCKROOM_URL (the front nginx) and STOCKROOM_STACK_DIR (the run dir, where
chaos-summary.txt goes):

    STOCKROOM_CLUSTER_RUN_DIR  the run dir: cluster/nodeN/ (scripts/cluster.sh's files), appN/ (each
                               app host's STACK_DIR), front/ (the front nginx)
    STOCKROOM_CLUSTER          executable (RUN/bin/cluster): scripts/cluster.sh with this run's STACK_DIR and netns prefix
    STOCKROOM_APPHOST          executable: `apphost N VERB...` = scripts/devstack.sh VERB for app host N,
                               inside its namespace, with its environment
    STOCKROOM_BIN_DIR          the release binaries (stockroomctl)
    STOCKROOM_NETNS_PREFIX, STOCKROOM_NETNS_SUBNET   the topology (defaults stk, 10.77.0)
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import requests

from .netns import Topology
from .stack import nginx_workers, pid_alive, read_log_from, read_pid, required_env, wait_for

NODES = (1, 2, 3)
APP_HOSTS = (1, 2)
APP_PORT = 8080
SQL_PORT = 3306


def run_dir() -> Path:
    return Path(required_env("STOCKROOM_CLUSTER_RUN_DIR"))


def topology() -> Topology:
    return Topology()


# ---------------------------------------------------------------------------- Galera nodes


def cluster(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """scripts/cluster.sh ARGS for this run (output captured)."""
    return subprocess.run([required_env("STOCKROOM_CLUSTER"), *args], text=True, capture_output=True, timeout=timeout)


def cluster_ok(*args: str, timeout: float = 180) -> str:
    proc = cluster(*args, timeout=timeout)
    assert proc.returncode == 0, f"cluster.sh {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


def node_address(n: int) -> str:
    return f"{topology().address(topology().db(n))}:{SQL_PORT}"


def all_node_addresses() -> str:
    return ",".join(node_address(n) for n in NODES)


def node_sql(n: int, sql: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
    """SQL as root on node n's unix socket (`cluster.sh sql N`), -N -B; works while n is cut off.
    Unchecked, it is a probe: a node that does not answer within `timeout` (a cut-off node holds a
    write until it notices it left the primary component, 12 s in CI) gives returncode -1, not an
    exception, so a probe in a wait loop asks again."""
    try:
        proc = cluster("sql", str(n), "-N", "-B", "-e", sql, timeout=timeout)
    except subprocess.TimeoutExpired:
        if check:
            raise
        return subprocess.CompletedProcess(["cluster.sh", "sql", str(n)], -1, "", f"no answer within {timeout} s")
    if check:
        assert proc.returncode == 0, f"node {n}: mariadb failed ({proc.returncode}) on {sql[:200]!r}:\n{proc.stderr[-2000:]}"
    return proc


def node_rows(n: int, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in node_sql(n, sql).stdout.splitlines() if line]


def node_status(n: int) -> dict[str, str]:
    """wsrep status of node n; {} when it does not answer."""
    proc = node_sql(n, "SHOW GLOBAL STATUS LIKE 'wsrep_%'", timeout=10, check=False)
    if proc.returncode != 0:
        return {}
    return dict(line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line)


def node_dir(n: int) -> Path:
    return run_dir() / "cluster" / f"node{n}"


def node_log(n: int) -> Path:
    return node_dir(n) / "mysqld.log"


def node_pid(n: int) -> int | None:
    pid = read_pid(node_dir(n) / "mysqld.pid")
    return pid if pid and pid_alive(pid) else None


def node_synced(n: int, size: int | None = 3) -> bool:
    st = node_status(n)
    return (st.get("wsrep_local_state_comment") == "Synced" and st.get("wsrep_cluster_status") == "Primary"
            and st.get("wsrep_ready") == "ON" and (size is None or st.get("wsrep_cluster_size") == str(size)))


def wait_cluster_synced(seconds: float = 90) -> bool:
    return bool(wait_for(lambda: all(node_synced(n) for n in NODES), seconds, 0.25))


def wait_cluster_quiet(seconds: float = 30) -> dict[int, str]:
    """Until every node is Synced in a cluster of 3 and all have applied the same last write
    (wsrep_last_committed equal on all three, twice in a row: nothing in flight); returns it."""
    last: list[dict[int, str]] = []

    def quiet() -> dict[int, str] | None:
        sts = {n: node_status(n) for n in NODES}
        if not all(st.get("wsrep_local_state_comment") == "Synced" and st.get("wsrep_cluster_size") == "3" for st in sts.values()):
            last.clear()
            return None
        seqnos = {n: st.get("wsrep_last_committed", "?") for n, st in sts.items()}
        same = len(set(seqnos.values())) == 1
        if same and last and last[-1] == seqnos:
            return seqnos
        last[:] = [seqnos] if same else []
        return None

    seqnos = wait_for(quiet, seconds, 0.3)
    assert seqnos, f"the nodes did not settle on one last committed write within {seconds} s: " + \
        "; ".join(f"node {n}: {node_summary(n)}" for n in NODES)
    return seqnos


def node_summary(n: int) -> str:
    st = node_status(n)
    if not st:
        return "no answer"
    return (f"{st.get('wsrep_local_state_comment')}, {st.get('wsrep_cluster_status')} size "
            f"{st.get('wsrep_cluster_size')}, ready {st.get('wsrep_ready')}, last committed {st.get('wsrep_last_committed')}")


# ---------------------------------------------------------------------------- app hosts


class AppHost:
    """App host n: nginx + 2 responders + 1 worker in namespace PREFIX-appN, STACK_DIR RUN/appN."""

    def __init__(self, n: int):
        self.n = n
        self.ns = topology().app(n)
        self.address = topology().address(self.ns)
        self.dir = run_dir() / f"app{n}"
        self.url = f"http://{self.address}:{APP_PORT}"

    def devstack(self, *args: str, timeout: float = 180, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([required_env("STOCKROOM_APPHOST"), str(self.n), *args], text=True, input=stdin,
                              capture_output=True, timeout=timeout)

    def up(self) -> None:
        proc = self.devstack("up")
        assert proc.returncode == 0, f"app host {self.n}: devstack up failed ({proc.returncode}):\n{proc.stderr[-3000:]}"

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/health", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def pids(self) -> list[int]:
        return topology().pids(self.ns)

    def kill(self) -> list[int]:
        """SIGKILL of every process of the host: its supervisord first (so that it restarts nothing),
        then everything in its namespace (nginx master and workers, responders, worker), until none
        is left. Returns what was killed."""
        killed: list[int] = []
        supervisord = read_pid(self.dir / "supervisord.pid")
        for pid in [supervisord] if supervisord else []:
            if pid in self.pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        deadline = time.monotonic() + 10
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        assert not self.pids(), f"app host {self.n}: processes left after SIGKILL: {self.pids()}"
        return sorted(set(killed))

    def env(self) -> dict[str, str]:
        """The app host's stack environment (the `export NAME=value` lines of its env file)."""
        env: dict[str, str] = {}
        for line in (self.dir / "env").read_text().splitlines():
            line = line.strip()
            if line.startswith("export "):
                for word in shlex.split(line)[1:]:
                    name, _, value = word.partition("=")
                    env[name] = value
        return env

    def ctl(self, *args: str, db_hosts: str | None = None, db_name: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """stockroomctl ARGS with this host's environment; `db_hosts` (host:port[,...]) replaces its
        STOCKROOM_DB_HOSTS, `db_name` its STOCKROOM_DB_NAME. Run from the root namespace, which reaches every node through the
        bridge. (Not `devstack.sh ctl`: it sources the env file, whose STOCKROOM_DB_HOSTS would win
        over the one given here.)"""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKROOM_DB_")}
        env.update(self.env())
        if db_hosts:
            for name in ("STOCKROOM_DB_SOCKET", "STOCKROOM_DB_HOST", "STOCKROOM_DB_PORT"):
                env.pop(name, None)
            env["STOCKROOM_DB_HOSTS"] = db_hosts
        if db_name:
            env["STOCKROOM_DB_NAME"] = db_name
        ctl = Path(required_env("STOCKROOM_BIN_DIR")) / "stockroomctl"
        return subprocess.run([str(ctl), *args], env=env, text=True, capture_output=True, timeout=timeout,
                              cwd=str(Path(__file__).resolve().parents[3]))

    def worker_log(self) -> Path:
        return self.dir / "worker-1.log"

    def responder_logs(self) -> list[Path]:
        return sorted(self.dir.glob("fcgi-*.log"))


def app_hosts() -> list[AppHost]:
    return [AppHost(n) for n in APP_HOSTS]


# ---------------------------------------------------------------------------- front nginx


def front_dir() -> Path:
    return run_dir() / "front"


def reload_front() -> None:
    """SIGHUP to the front nginx, and wait for its new workers: they start with both app hosts in
    rotation (max_fails state is per worker), so a case does not depend on the previous one."""
    master = read_pid(front_dir() / "nginx.pid")
    assert master and pid_alive(master), f"front nginx.pid names {master}"
    old = nginx_workers(master)
    os.kill(master, signal.SIGHUP)
    assert wait_for(lambda: (nginx_workers(master) - old) and not (nginx_workers(master) & old), 15, 0.05), (
        f"front nginx workers {old} were not replaced within 15 s of SIGHUP"
    )


_FRONT_LINE = re.compile(r'\[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) .* ua="(?P<ua>[^"]*)" '
                         r'us="(?P<us>[^"]*)" id=(?P<id>\S+)')


def front_log_size() -> int:
    try:
        return (front_dir() / "access.log").stat().st_size
    except FileNotFoundError:
        return 0


def front_lines(offset: int = 0, end: int | None = None) -> list[dict[str, str]]:
    """The front's access log lines between two offsets: status, ua (app hosts tried, "a, b"), us
    (their statuses)."""
    text = read_log_from(front_dir() / "access.log", offset)
    if end is not None:
        text = text.encode()[: max(0, end - offset)].decode("utf-8", "replace")
    out = []
    for line in text.splitlines():
        m = _FRONT_LINE.search(line)
        if m:
            out.append(m.groupdict())
    return out


def served_by(lines: list[dict[str, str]]) -> dict[str, int]:
    """Requests per app host that answered them (the last address nginx tried), and those no host answered."""
    counts: dict[str, int] = {}
    for line in lines:
        last = line["ua"].split(",")[-1].strip().split(" : ")[-1].strip() or "-"
        counts[last] = counts.get(last, 0) + 1
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------- what the nodes and logs show


def app_connections() -> dict[int, int]:
    """Connections of the application user per node that answers (where the responders and workers are)."""
    out = {}
    for n in NODES:
        proc = node_sql(n, "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'stockroom'",
                        timeout=5, check=False)
        if proc.returncode == 0 and proc.stdout.strip().isdigit():
            out[n] = int(proc.stdout.strip())
    return out


def responder_lines(request_ids: list[str], limit: int = 20) -> list[str]:
    """The app hosts' responder log lines that name one of these request ids (for a failure's evidence)."""
    wanted = {i for i in request_ids if i}
    out: list[str] = []
    if not wanted:
        return out
    for host in app_hosts():
        for path in host.responder_logs():
            for line in read_log_from(path, 0).splitlines():
                if any(i in line for i in wanted):
                    out.append(f"app{host.n}/{path.name}: {line.strip()[:400]}")
                    if len(out) >= limit:
                        return out
    return out


def state_transfer(log_text: str) -> str:
    """How a node that rejoined got the writes it missed, from its error log since its start: "IST"
    (the writesets it missed, from a donor's gcache: "Receiving IST" / "IST received"), "SST" (a full
    copy of a donor's data), both, or neither logged. With the mariabackup method the joiner runs
    its SST script every time; when the donor can serve an IST the script only says so ("'xtrabackup_ist'
    received from donor: Running IST", "mariabackup IST completed on joiner"): that is no SST."""
    script_ran = "--role 'joiner'" in log_text
    sst = bool(re.search(r"\b(mariabackup|rsync|mysqldump) SST completed on joiner", log_text)) or (
        script_ran and "Running IST" not in log_text and "IST completed on joiner" not in log_text)
    ist = bool(re.search(r"IST received|Receiving IST", log_text))
    return {(False, True): "IST", (True, False): "SST", (True, True): "SST and IST", (False, False): "neither logged"}[(sst, ist)]
