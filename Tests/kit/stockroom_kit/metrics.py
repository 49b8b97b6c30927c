"""The stack's Prometheus targets and what they expose (issue 12).

Targets: responder N at `$STOCKROOM_URL/metrics/N` (nginx pins it to fcgi-N.sock), worker N at
the loopback address its log names (`metrics listening ... 127.0.0.1:PORT`; the test stacks give
each worker a free port). `scrape` parses the text format into families with their TYPE, HELP
and samples; `promtool_check` runs `promtool check metrics` on a body, as an operator would.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from .stack import base_url, responder_indexes, run_stack, stack_dir

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(\s+-?\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_LISTENING = re.compile(r"metrics listening.*?(127\.\d+\.\d+\.\d+:\d+|\[::1\]:\d+)|"
                        r"(127\.\d+\.\d+\.\d+:\d+|\[::1\]:\d+).*?metrics listening")
_WORKER_LOG = re.compile(r"^worker-(\d+)\.log$")


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str | None = None
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


@dataclass
class Exposition:
    text: str
    families: dict[str, Family]

    def family(self, name: str) -> Family:
        assert name in self.families, f"no family {name}; families: {sorted(self.families)}"
        return self.families[name]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of `name` whose labels include `labels`."""
        family = self.family(_family_name(name, self.families))
        matches = [v for n, ls, v in family.samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
        assert len(matches) == 1, f"{len(matches)} samples of {name}{labels}: {family.samples[:10]}"
        return matches[0]

    def total(self, name: str) -> float:
        """The sum of every sample named `name` (0 when there is none)."""
        family = self.families.get(_family_name(name, self.families))
        return sum(v for n, _, v in family.samples if n == name) if family else 0.0

    def monotonic_series(self) -> dict[str, float]:
        """Every series that may only grow while the process lives: counters, and the _count, _sum
        (of durations, never negative) and _bucket of histograms; keyed by name and labels."""
        out: dict[str, float] = {}
        for family in self.families.values():
            if family.type not in ("counter", "histogram"):
                continue
            for name, labels, value in family.samples:
                key = name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
                out[key] = value
        return out


def _family_name(sample: str, families: dict[str, Family]) -> str:
    if sample in families:
        return sample
    for suffix in ("_bucket", "_count", "_sum"):
        if sample.endswith(suffix) and sample[: -len(suffix)] in families:
            return sample[: -len(suffix)]
    return sample


def parse(text: str) -> Exposition:
    """The text exposition format, strictly enough to fail on a line Prometheus would refuse."""
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, *rest = line.split(" ", 3)
            family = families.setdefault(name, Family(name))
            if kind == "HELP":
                family.help = rest[0] if rest else ""
            else:
                family.type = rest[0]
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))
        assert not math.isnan(value), f"NaN sample: {line!r}"
        families.setdefault(_family_name(name, families), Family(name)).samples.append((name, labels, value))
    return Exposition(text, families)


# ---------------------------------------------------------------------------- targets


def responder_target(index: int) -> str:
    return f"{base_url()}/metrics/{index}"


def responder_targets() -> dict[str, str]:
    """"responder N" -> its URL, for every responder of the stack."""
    indexes = responder_indexes()
    assert indexes, f"no fcgi-N.pid in {stack_dir()}"
    return {f"responder {i}": responder_target(i) for i in indexes}


def worker_address(log: Path) -> str | None:
    """The address a worker last said it serves its metrics on (its latest start)."""
    return worker_address_in(log.read_text(errors="replace"))


def worker_address_in(text: str) -> str | None:
    """The last metrics address named in a worker's log text."""
    found = None
    for line in text.splitlines():
        m = _LISTENING.search(line)
        if m:
            found = m.group(1) or m.group(2)
    return found


def worker_targets() -> dict[str, str]:
    """"worker N" -> its metrics URL, for every worker log of the stack."""
    out = {}
    for log in sorted(stack_dir().glob("worker-*.log")):
        m = _WORKER_LOG.match(log.name)
        if not m:
            continue
        address = worker_address(log)
        assert address, f"{log.name} names no metrics address (no 'metrics listening' line):\n{log.read_text()[-2000:]}"
        out[f"worker {m.group(1)}"] = f"http://{address}/metrics"
    assert out, f"no worker-N.log in {stack_dir()}"
    return out


def all_targets() -> dict[str, str]:
    return {**responder_targets(), **worker_targets()}


def fetch(url: str, timeout: float = 10) -> str:
    r = requests.get(url, timeout=timeout)
    assert r.status_code == 200, f"GET {url}: {r.status_code} {r.text[:300]!r}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, f"GET {url}: Content-Type {ctype!r}"
    return r.content.decode("utf-8")


def scrape(url: str, timeout: float = 10) -> Exposition:
    return parse(fetch(url, timeout))


# ---------------------------------------------------------------------------- promtool


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool not found: `scripts/deps.sh --test` installs Debian's prometheus package")
    return path


def promtool_check(text: str) -> subprocess.CompletedProcess:
    """`promtool check metrics` on an exposition: exit 0 and nothing printed when it has nothing to say."""
    return subprocess.run([promtool(), "check", "metrics"], input=text, text=True, capture_output=True, timeout=30)


def stack_gaps() -> list[str]:
    """What of the stack is not whole right now: `devstack.sh status` (every program RUNNING under
    supervisord, /health 200) and every responder's and worker's metrics target answering 200.
    Empty when whole. A restarted program is RUNNING before it serves, so the targets are asked too."""
    gaps = []
    status = run_stack("status", timeout=30)
    if status.returncode != 0:
        gaps.append(f"devstack status exits {status.returncode}:\n{status.stdout[-1500:]}{status.stderr[-500:]}")
    try:
        targets = all_targets()
    except AssertionError as e:
        return gaps + [str(e)[:500]]
    for name, url in targets.items():
        try:
            code = requests.get(url, timeout=5).status_code
        except requests.RequestException as e:
            code = type(e).__name__
        if code != 200:
            gaps.append(f"{name} ({url}): {code}")
    return gaps
