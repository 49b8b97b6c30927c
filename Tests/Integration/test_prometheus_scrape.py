"""Issue 12, as the issue puts it: the Prometheus scrape configuration of docs/operations.md, pointed
at this stack, gets monotonic counters from every process.

The documented `scrape_configs` block is taken from the docs as it is, with only its addresses
replaced (nginx's port, the workers' ports of this stack), a global scrape interval of 1 s put in
front, checked with `promtool check config`, and run by a real Prometheus (Debian's, the package
that brings promtool) while the stack gets traffic. Then Prometheus's own queries say: every
target up, seven scrapes or more each, one series per responder, and not one counter reset.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from stockroom_kit.metrics import promtool, responder_targets, worker_targets
from stockroom_kit.plugin import observe
from stockroom_kit.stack import base_url, wait_for

REPO = Path(__file__).resolve().parents[2]
SCRAPES = 7
# Every series that only grows while a process lives: counters and the parts of histograms.
MONOTONIC = re.compile(r".+_(total|count|sum|bucket)$")


def documented_scrape_config() -> str:
    operations = (REPO / "docs" / "operations.md").read_text()
    blocks = re.findall(r"```yaml\n(scrape_configs:\n.*?)```", operations, re.S)
    assert len(blocks) == 1, f"docs/operations.md should hold one ```yaml block starting with scrape_configs:, found {len(blocks)}"
    return blocks[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(port: int, expression: str) -> list[dict]:
    r = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expression}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def test_the_documented_scrape_config_sees_every_process_and_no_reset(api, tmp_path):
    prometheus = shutil.which("prometheus")
    if not prometheus:
        pytest.fail("prometheus not found: `scripts/deps.sh --test` installs Debian's prometheus package")
    config = documented_scrape_config()
    responders = responder_targets()
    workers = [url.split("/")[2] for url in worker_targets().values()]
    documented_responders = re.findall(r"__metrics_path__: /metrics/(\d+)", config)
    assert len(documented_responders) == len(responders), (documented_responders, responders)
    assert config.count("'127.0.0.1:9465'") == 1 and "'127.0.0.1:80'" in config, config
    nginx = re.match(r"http://([^/]+)", base_url()).group(1)
    config = config.replace("'127.0.0.1:80'", f"'{nginx}'").replace(
        "'127.0.0.1:9465'", ", ".join(f"'{w}'" for w in workers))
    path = tmp_path / "prometheus.yml"
    path.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\n" + config)
    check = subprocess.run([promtool(), "check", "config", str(path)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"promtool check config:\n{check.stdout}{check.stderr}\n{path.read_text()}"

    port = _free_port()
    log = tmp_path / "prometheus.log"
    with open(log, "w") as out:
        process = subprocess.Popen([prometheus, f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        assert wait_for(ready, 30, 0.2), f"Prometheus not ready in 30 s:\n{log.read_text()[-3000:]}"
        targets = len(responders) + len(workers)

        def scraped_enough() -> bool:
            api.get("/api/v1/products?limit=1")
            api.get("/health")
            counts = _query(port, "count_over_time(up[5m])")
            return len(counts) == targets and all(float(c["value"][1]) >= SCRAPES for c in counts)

        assert wait_for(scraped_enough, 60, 0.25), f"scrapes per target: {_query(port, 'count_over_time(up[5m])')}"
        up = _query(port, "up")
        assert len(up) == targets and all(u["value"][1] == "1" for u in up), up
        per_responder = _query(port, 'count by (responder) (stockroom_fastcgi_listener_info{job="stockroom-fcgi"})')
        assert sorted(r["metric"].get("responder") for r in per_responder) == sorted(documented_responders), per_responder
        # resets() drops the name, so one query per name (series of several names would collide).
        names = requests.get(f"http://127.0.0.1:{port}/api/v1/label/__name__/values", timeout=10).json()["data"]
        monotonic = [name for name in names if MONOTONIC.match(name)]
        assert "stockroom_http_requests_total" in monotonic and "process_cpu_seconds_total" in monotonic, monotonic
        series = 0
        for name in monotonic:
            selector = f'{name}{{job=~"stockroom-.+"}}'
            resets = _query(port, f"resets({selector}[5m]) > 0")
            assert not resets, f"Prometheus saw {name} reset: {resets[:5]}"
            series += len(_query(port, selector))
        moved = _query(port, 'sum by (responder) (increase(stockroom_http_requests_total[5m])) > 0')
        assert len(moved) == len(responders), f"responders whose request counters moved: {moved}"
        observe(f"prometheus: the documented scrape config on this stack: {targets} targets up, "
                f">= {SCRAPES} scrapes each, {series} monotonic series of {len(monotonic)} names, 0 resets")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
