"""Contract: Operations — GET /metrics in Prometheus text format (loopback only)."""

import re

import pytest

from stockroom_kit.client import describe

REQUESTS_FAMILY = "stockroom_http_requests_total"
LATENCY_FAMILY = "stockroom_http_request_duration_seconds"

# Label values are quoted strings and may contain braces (route="/api/v1/products/{id}").
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(\s+\d+)?$')


def _parse(text):
    """Return (types: family -> type, samples: list of (name, labels, value))."""
    types, samples = {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        float(m.group(3).replace("+Inf", "inf").replace("-Inf", "-inf"))
        samples.append((m.group(1), m.group(2) or "", m.group(3)))
    return types, samples


@pytest.fixture
def metrics(api):
    # make sure whichever process answers has served some requests
    for _ in range(20):
        api.get("/health")
        api.get("/api/v1/products")
    r = api.get("/metrics")
    assert r.status_code == 200, describe(r)
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain"), describe(r)
    return _parse(r.content.decode("utf-8"))


def _family(types, kind, preferred, hint):
    if preferred in types:
        assert types[preferred] == kind, f"{preferred} is a {types[preferred]}, not a {kind}"
        return preferred
    # swift-prometheus may declare the counter family without the _total suffix
    base = preferred[: -len("_total")] if preferred.endswith("_total") else None
    if base and types.get(base) == kind:
        return base
    candidates = [name for name, t in types.items() if t == kind and hint in name]
    assert candidates, f"no {kind} family like {preferred}; families: {types}"
    return sorted(candidates)[0]


def test_requests_counter(metrics):
    types, samples = metrics
    family = _family(types, "counter", REQUESTS_FAMILY, "request")
    lines = [s for s in samples if s[0] in (family, family + "_total")]
    assert lines, f"no samples of {family}"
    labels = " ".join(s[1] for s in lines)
    assert "status" in labels or "code" in labels, f"{family} has no status label: {lines[:5]}"
    assert "route" in labels or "path" in labels or "handler" in labels, f"{family} has no route label: {lines[:5]}"
    assert sum(float(s[2]) for s in lines) > 0


def test_latency_histogram(metrics):
    types, samples = metrics
    family = _family(types, "histogram", LATENCY_FAMILY, "duration")
    buckets = [s for s in samples if s[0] == family + "_bucket"]
    assert buckets, f"no {family}_bucket lines"
    assert any('le="+Inf"' in s[1] for s in buckets), buckets[:5]
    assert [s for s in samples if s[0] == family + "_count"], f"no {family}_count"
    assert [s for s in samples if s[0] == family + "_sum"], f"no {family}_sum"

