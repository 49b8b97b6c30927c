"""Issue 12: every process is a Prometheus target of its own, and promtool has nothing to say.

Responder N answers at /metrics/N through nginx (pinned to fcgi-N.sock, loopback only); each
worker on the loopback port its log names. Counters of a target never go back from one scrape to
the next, every family has HELP and TYPE, and every family is listed in docs/operations.md with
that same help text.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from stockroom_kit.client import Api
from stockroom_kit.metrics import all_targets, promtool_check, responder_target, responder_targets, scrape
from stockroom_kit.plugin import observe
from stockroom_kit.stack import base_url, responder_indexes, stack_dir

REPO = Path(__file__).resolve().parents[2]
SCRAPES = 6


def _traffic(api: Api, n: int = 10) -> None:
    for _ in range(n):
        assert api.get("/health/live").status_code == 200
        assert api.get("/api/v1/products?limit=1").status_code == 200


def test_each_responder_target_is_that_responder(api):
    _traffic(api)
    for index in responder_indexes():
        exposition = scrape(responder_target(index))
        socket_path = exposition.family("stockroom_fastcgi_listener_info").samples[0][1]["socket"]
        assert socket_path == str(stack_dir() / f"fcgi-{index}.sock"), (index, socket_path)
        for _ in range(3):  # and always that one: no upstream choice
            again = scrape(responder_target(index))
            assert again.value("process_start_time_seconds") == exposition.value("process_start_time_seconds")


def test_six_scrapes_of_each_target_never_see_a_counter_go_back(api):
    targets = all_targets()
    history: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(SCRAPES):
        _traffic(api, 5)
        for name, url in targets.items():
            history[name].append(scrape(url).monotonic_series())
    for name, scrapes in history.items():
        for k in range(1, len(scrapes)):
            before, after = scrapes[k - 1], scrapes[k]
            gone = sorted(set(before) - set(after))
            assert not gone, f"{name}: scrape {k + 1} lost series {gone[:5]}"
            back = {key: (before[key], after[key]) for key in before if after[key] < before[key]}
            assert not back, f"{name}: scrape {k + 1} went back on {dict(list(back.items())[:5])}"
        assert len(scrapes[-1]) > 0, f"{name}: no counters"
    for name in responder_targets():
        first, last = history[name][0], history[name][-1]
        requests_before = sum(v for k, v in first.items() if k.startswith("stockroom_http_requests_total{"))
        requests_after = sum(v for k, v in last.items() if k.startswith("stockroom_http_requests_total{"))
        assert requests_after > requests_before, f"{name}: requests_total did not move over {SCRAPES} scrapes"
    observe(f"metrics: {SCRAPES} scrapes of each of {len(targets)} targets ({', '.join(targets)}), no counter went back")


def test_promtool_finds_nothing_on_any_target(api):
    _traffic(api)
    for name, url in all_targets().items():
        text = scrape(url).text
        result = promtool_check(text)
        assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
            f"promtool check metrics on {name} ({url}): exit {result.returncode}\n{result.stdout}{result.stderr}"
        )


def test_every_family_has_help_and_type_and_is_documented(api):
    _traffic(api)
    operations = (REPO / "docs" / "operations.md").read_text()
    section = operations[operations.index("## Metrics"):]
    section = section[: section.index("\n## ", 1)]
    missing: list[str] = []
    for name, url in all_targets().items():
        for family in scrape(url).families.values():
            assert family.help, f"{name}: {family.name} has no HELP"
            assert family.type in ("counter", "gauge", "histogram"), f"{name}: {family.name} is {family.type}"
            if f"`{family.name}`" not in section or family.help not in section:
                missing.append(f"{family.name}: {family.help}")
    assert not missing, "docs/operations.md's Metrics section lacks (name in backticks and its HELP text):\n" + \
        "\n".join(sorted(set(missing)))


def _raw_get(path: str, source: str) -> int:
    host, port = re.match(r"http://([^:/]+):(\d+)", base_url()).groups()
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


def test_responder_targets_are_loopback_only_and_exact(api):
    index = responder_indexes()[0]
    assert _raw_get(f"/metrics/{index}", "127.0.0.2") == 403
    assert _raw_get(f"/metrics/{index}", "127.0.0.1") == 200
    # Only /metrics/N with a responder N: no other path under /metrics/ reaches a pinned socket.
    for path, status in ((f"/metrics/{index}/", 404), (f"/metrics/0{index}", 404), ("/metrics/x", 404),
                         (f"/metrics/{max(responder_indexes()) + 1}", 502)):
        r = api.get(path)
        assert r.status_code == status, (path, r.status_code, r.text[:200])
        assert r.headers.get("Content-Type", "").startswith("application/json"), (path, r.headers)
