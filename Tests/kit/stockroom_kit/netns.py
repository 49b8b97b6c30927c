"""Several hosts on one machine (issue 11): network namespaces on a bridge, for the cluster fault suite.

    Topology()      a bridge PREFIXbr0 in the root namespace with SUBNET.1/24, and namespaces
                    PREFIX-db1..3 (SUBNET.11-13) and PREFIX-app1..2 (SUBNET.21-22), each with `lo` up
                    and `eth0`, one end of a veth pair whose root-side end (PREFIXv-db1, ...) is on the bridge
    create()        removes what a crashed run left (same prefix), then builds it all; checks that every
                    namespace reaches every other
    cut(ns)         the root-side veth of ns down: ns is cut off from every other namespace and from the
                    root one (its processes keep running, its connections hang); restore(ns) brings it up
    run(ns, argv)   a command inside ns
    destroy()       SIGKILL of whatever still runs in the namespaces, then namespaces and bridge deleted

Defaults: prefix `stk`, subnet `10.77.0`; STOCKROOM_NETNS_PREFIX and STOCKROOM_NETNS_SUBNET override them
so that two runs can coexist (scripts/cluster-chaos-test.sh also takes a lock per prefix).

Bridged traffic and iptables: with net.bridge.bridge-nf-call-iptables=1 (this machine's setting), frames
crossing a bridge go through iptables' FORWARD chain, so a FORWARD policy of DROP (what Docker sets) or a
rule would silently drop the traffic between the namespaces (checked here: a DROP rule on the bridge, or
the policy DROP, cut a TCP connect between two namespaces). The sysctl is per network namespace but the
bridge is in the root one, and the per-bridge `nf_call_iptables` option can only add hooks, not remove
them; so when that sysctl is 1 and an iptables command exists, create() puts one ACCEPT rule for the
bridge first in FORWARD (`-i B -o B`, with a comment naming the prefix) and destroy() deletes it; an
nftables-only ruleset is not touched, and the connectivity check then says what is wrong.

Also a command line, for the shell scripts:
    python3 -m stockroom_kit.netns up|down|status|cut NS|restore NS|address NS
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PREFIX = "stk"
DEFAULT_SUBNET = "10.77.0"
DB_NODES = 3
APP_HOSTS = 2
BRIDGE_NF_SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def prefix() -> str:
    return os.environ.get("STOCKROOM_NETNS_PREFIX") or DEFAULT_PREFIX


def subnet() -> str:
    return os.environ.get("STOCKROOM_NETNS_SUBNET") or DEFAULT_SUBNET


class NetnsError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], text=True, capture_output=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@dataclass(frozen=True)
class Host:
    name: str  # the namespace, e.g. stk-db1
    address: str  # eth0's IPv4 address, e.g. 10.77.0.11
    veth: str  # the root-side end of its veth pair, on the bridge, e.g. stkv-db1


class Topology:
    def __init__(self, prefix_: str | None = None, subnet_: str | None = None):
        self.prefix = prefix_ or prefix()
        self.subnet = subnet_ or subnet()
        parts = self.subnet.split(".")
        if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise NetnsError(f"subnet must be the first three octets of a /24, e.g. 10.77.0 (got {self.subnet!r})")
        self.bridge = f"{self.prefix}br0"
        self.gateway = f"{self.subnet}.1"
        hosts = [Host(f"{self.prefix}-db{i}", f"{self.subnet}.{10 + i}", f"{self.prefix}v-db{i}") for i in range(1, DB_NODES + 1)]
        hosts += [Host(f"{self.prefix}-app{i}", f"{self.subnet}.{20 + i}", f"{self.prefix}v-app{i}") for i in range(1, APP_HOSTS + 1)]
        self.hosts = {h.name: h for h in hosts}
        # Linux interface names hold 15 characters.
        too_long = [n for n in [self.bridge, *(h.veth for h in hosts)] if len(n) > 15]
        if too_long:
            raise NetnsError(f"prefix {self.prefix!r} too long for interface names: {too_long}")
        self.rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-m", "comment",
                     "--comment", f"stockroom-netns-{self.prefix}", "-j", "ACCEPT"]

    # ------------------------------------------------------------------ names

    def db(self, i: int) -> str:
        return f"{self.prefix}-db{i}"

    def app(self, i: int) -> str:
        return f"{self.prefix}-app{i}"

    def address(self, name: str) -> str:
        return self._host(name).address

    def _host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise NetnsError(f"no namespace {name!r} in this topology ({', '.join(self.hosts)})") from None

    # ------------------------------------------------------------------ state

    def existing_namespaces(self) -> list[str]:
        out = _ip("netns", "list").stdout
        names = {line.split()[0] for line in out.splitlines() if line.strip()}
        return [n for n in self.hosts if n in names]

    def link_exists(self, name: str) -> bool:
        return _ip("link", "show", "dev", name, check=False).returncode == 0

    def pids(self, name: str) -> list[int]:
        proc = _ip("netns", "pids", name, check=False)
        return [int(p) for p in proc.stdout.split() if p.isdigit()] if proc.returncode == 0 else []

    # ------------------------------------------------------------------ build, tear down

    def create(self) -> "Topology":
        """Idempotent: what a crashed run of this prefix left is removed first."""
        self.destroy(quiet=True)
        _ip("link", "add", self.bridge, "type", "bridge")
        # No STP and no forwarding delay: ports forward as soon as they are up (restore() included).
        _ip("link", "set", self.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for h in self.hosts.values():
            _ip("netns", "add", h.name)
            _ip("-n", h.name, "link", "set", "lo", "up")
            _ip("link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.name)
            _ip("link", "set", h.veth, "master", self.bridge)
            _ip("link", "set", h.veth, "up")
            _ip("-n", h.name, "addr", "add", f"{h.address}/24", "dev", "eth0")
            _ip("-n", h.name, "link", "set", "eth0", "up")
        self._accept_bridged_traffic()
        self.check_connectivity()
        return self

    def destroy(self, quiet: bool = False) -> None:
        """SIGKILL of any process left in the namespaces (everything in them belongs to this
        topology's run), then namespaces, veths, bridge and the iptables rule removed."""
        for name in self.existing_namespaces():
            for _ in range(50):
                pids = self.pids(name)
                if not pids:
                    break
                if not quiet:
                    print(f"netns: {name}: SIGKILL of leftover processes {pids}", file=sys.stderr)
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.1)
            _ip("netns", "del", name, check=False)
        for h in self.hosts.values():
            if self.link_exists(h.veth):
                _ip("link", "del", h.veth, check=False)
        if self.link_exists(self.bridge):
            _ip("link", "del", self.bridge, check=False)
        for tool in self._iptables():
            while subprocess.run([tool, "-w", "-D", *self.rule], capture_output=True).returncode == 0:
                pass

    # ------------------------------------------------------------------ faults

    def cut(self, name: str) -> None:
        """Cuts `name` off from every other namespace and from the root one: its bridge port goes
        down (the carrier of its eth0 too); its processes keep running."""
        _ip("link", "set", self._host(name).veth, "down")

    def restore(self, name: str) -> None:
        _ip("link", "set", self._host(name).veth, "up")

    def is_cut(self, name: str) -> bool:
        flags = re.search(r"<([^>]*)>", _ip("-o", "link", "show", "dev", self._host(name).veth).stdout)
        return not (flags and "UP" in flags.group(1).split(","))

    def run(self, name: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        """subprocess.run(argv) inside namespace `name` (text, captured output unless told otherwise)."""
        self._host(name)
        kwargs.setdefault("text", True)
        if "stdout" not in kwargs and "stderr" not in kwargs:
            kwargs.setdefault("capture_output", True)
        return subprocess.run(["ip", "netns", "exec", name, *argv], **kwargs)

    # ------------------------------------------------------------------ checks

    def can_connect(self, source: str | None, address: str, port: int, seconds: float = 2) -> bool:
        """A TCP connect from namespace `source` (None: the root one) to address:port succeeds or is
        refused (the packets got through either way); False on a timeout or no route."""
        code = ("import socket, sys\n"
                "s = socket.socket(); s.settimeout(float(sys.argv[3]))\n"
                "try:\n    s.connect((sys.argv[1], int(sys.argv[2])))\n"
                "except ConnectionRefusedError:\n    pass\n"
                "except OSError:\n    sys.exit(1)\n")
        argv = [sys.executable, "-c", code, address, str(port), str(seconds)]
        proc = self.run(source, argv) if source else subprocess.run(argv, capture_output=True)
        return proc.returncode == 0

    def check_connectivity(self) -> None:
        """Every namespace reaches every other and the root namespace reaches each (a connect to a
        closed port is answered by a reset, which proves the path)."""
        names = list(self.hosts)
        failed = []
        for src in [None, *names]:
            for dst in names:
                if src != dst and not self.can_connect(src, self.hosts[dst].address, 9):
                    failed.append(f"{src or 'root'} -> {dst}")
        if failed:
            hint = ""
            if self._bridge_nf_on():
                hint = (f" (net.bridge.bridge-nf-call-iptables is 1: bridged frames go through the FORWARD "
                        f"chain; check `iptables -S FORWARD` and `nft list ruleset` for a drop policy or rule)")
            raise NetnsError("no path " + ", ".join(failed) + hint)

    # ------------------------------------------------------------------ iptables

    def _bridge_nf_on(self) -> bool:
        try:
            return BRIDGE_NF_SYSCTL.read_text().strip() == "1"
        except OSError:
            return False

    def _iptables(self) -> list[str]:
        """The iptables front ends present: nf_tables, and legacy only when its tables are loaded
        (listing them would load them)."""
        tools = [t for t in ("iptables-nft",) if shutil.which(t)]
        try:
            legacy_in_use = bool(Path("/proc/net/ip_tables_names").read_text().split())
        except OSError:
            legacy_in_use = False
        if legacy_in_use and shutil.which("iptables-legacy"):
            tools.append("iptables-legacy")
        if not tools and shutil.which("iptables"):
            tools.append("iptables")
        return tools

    def _accept_bridged_traffic(self) -> None:
        if not self._bridge_nf_on():
            return
        for tool in self._iptables():
            listing = subprocess.run([tool, "-w", "-S", "FORWARD"], text=True, capture_output=True)
            if listing.returncode != 0:
                continue
            # Only where FORWARD could drop something: a policy other than ACCEPT, or any rule.
            lines = listing.stdout.splitlines()
            if lines == ["-P FORWARD ACCEPT"]:
                continue
            subprocess.run([tool, "-w", "-I", *self.rule[:1], "1", *self.rule[1:]], check=True, capture_output=True)

    def status(self) -> str:
        out = [f"bridge {self.bridge} {self.gateway}/24: {'present' if self.link_exists(self.bridge) else 'absent'}"]
        present = set(self.existing_namespaces())
        for h in self.hosts.values():
            if h.name not in present:
                out.append(f"  {h.name:10} absent")
                continue
            state = "cut" if self.link_exists(h.veth) and self.is_cut(h.name) else "up"
            out.append(f"  {h.name:10} {h.address:12} {state}, pids {self.pids(h.name) or '-'}")
        return "\n".join(out)


def main(argv: list[str]) -> int:
    usage = "usage: python3 -m stockroom_kit.netns up|down|status|cut NS|restore NS|address NS"
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    topo = Topology()
    verb, args = argv[0], argv[1:]
    try:
        if verb == "up" and not args:
            topo.create()
            print(f"netns: {', '.join(topo.hosts)} on {topo.bridge} ({topo.gateway}/24)", file=sys.stderr)
        elif verb == "down" and not args:
            topo.destroy()
        elif verb == "status" and not args:
            print(topo.status())
        elif verb == "cut" and len(args) == 1:
            topo.cut(args[0])
        elif verb == "restore" and len(args) == 1:
            topo.restore(args[0])
        elif verb == "address" and len(args) == 1:
            print(topo.address(args[0]))
        else:
            print(usage, file=sys.stderr)
            return 2
    except NetnsError as exc:
        print(f"netns: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
