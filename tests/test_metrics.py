"""Prometheus metrics: dashboard/name consistency and a real multiprocess round trip.

prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is imported, so everything that
records or renders runs in fresh interpreters (``python -c``) with the variable set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from piyasa_core.metrics import METRIC_NAMES
from tests.conftest import REPO

DASHBOARD = REPO / "docs" / "grafana-dashboard.json"
HISTOGRAMS = {"piyasa_generation_seconds", "piyasa_end_to_end_seconds"}


def _panels(items: list[dict]) -> list[dict]:
    out = []
    for panel in items:
        out.append(panel)
        out.extend(_panels(panel.get("panels", [])))
    return out


def _dashboard_names() -> dict[str, set[str]]:
    """Base metric name -> titles of the panels whose expressions use it."""
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used: dict[str, set[str]] = {}
    for panel in _panels(dash["panels"]):
        for target in panel.get("targets", []):
            for name in re.findall(r"piyasa_[a-z0-9_]+", target["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name not in METRIC_NAMES and base in HISTOGRAMS:
                    name = base
                used.setdefault(name, set()).add(panel["title"])
    return used


def test_dashboard_uses_exactly_the_metric_names() -> None:
    used = _dashboard_names()
    unknown = set(used) - set(METRIC_NAMES)
    assert not unknown, f"dashboard references unknown metrics: {sorted(unknown)}"
    unused = set(METRIC_NAMES) - set(used)
    assert not unused, f"metrics without a dashboard panel: {sorted(unused)}"


def test_dashboard_is_a_grafana_dashboard() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert 36 <= dash["schemaVersion"] <= 41 and dash["title"] and dash["uid"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    ids = [p["id"] for p in _panels(dash["panels"])]
    assert len(ids) == len(set(ids))
    for panel in _panels(dash["panels"]):
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_metric_names_follow_conventions_and_are_documented() -> None:
    doc = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    for name in METRIC_NAMES:
        assert name.startswith("piyasa_")
        assert name in doc, name
        if name in HISTOGRAMS:
            assert name.endswith("_seconds")


def _run(code: str, env_dir: Path | None, *args: str) -> str:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("prometheus_multiproc_dir", None)
    if env_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(env_dir)
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


CHILD = """
import os
from piyasa_core.metrics import get_metrics
m = get_metrics()
for chat in (10, 11, 10):
    m.message_sent("1", "botA" if chat == 10 else "botB", chat, 0.4, "groq", 12.0,
                   tokens_in=100, tokens_out=20, tokens_cached=30)
m.message_failed("1", "TimedOut")
m.message_skipped("1", "duplicate", n=2)
m.llm_request("1", "groq", "ok")
m.llm_request("1", "groq", "RateLimited")
m.ratelimit("1", "groq", requests=29, tokens=5000)
m.cache_delta("1", "l1", hits=5, misses=3, errors=0)
m.cache_delta("1", "l1", hits=8, misses=3, errors=0)   # +3 hits
m.cache_delta("1", "l1", hits=2, misses=1, errors=0)   # counters were reset: +2 hits, +1 miss
m.cache_delta("1", "l2", hits=1, misses=2, errors=1)
m.telegram_request("1", "sendMessage", "ok")
print(os.getpid())
"""

PARENT = """
import json, sys
from piyasa_core.metrics import get_metrics, mark_dead, render_latest
from prometheus_client.parser import text_string_to_metric_families

def samples():
    body, ctype = render_latest()
    text = body.decode()
    fams = list(text_string_to_metric_families(text))
    return {"ctype": ctype, "help": [l.split()[2] for l in text.splitlines()
                                     if l.startswith("# HELP ")],
            "samples": [[s.name, s.labels, s.value] for f in fams for s in f.samples]}

child = int(sys.argv[1])
m = get_metrics()
m.worker_up("1", True)
m.worker_restarted("1")
m.provider_state("groq", "ok", ["ok", "cooldown", "exhausted"])
m.day_plan({"scale": 0.28, "chain": "groq", "providers": [
    {"name": "groq", "affordable_left": 215.1, "planned_per_hour": 14.9},
    {"name": "offline", "affordable_left": None, "planned_per_hour": None}]})
before = samples()
mark_dead(child)
m.worker_up("1", False)
after = samples()
print(json.dumps({"before": before, "after": after, "mode": m.ratelimit_mode}))
"""


def _value(samples: list, name: str, **labels: str) -> float:
    return sum(v for n, lab, v in samples
               if n == name and all(lab.get(k) == x for k, x in labels.items()))


def test_multiprocess_round_trip(tmp_path: Path) -> None:
    run_dir = tmp_path / "metrics"
    run_dir.mkdir()
    child_pid = int(_run(CHILD, run_dir).strip())
    assert any(p.name == f"gauge_livemostrecent_{child_pid}.db" or
               p.name == f"gauge_liveall_{child_pid}.db" for p in run_dir.iterdir())
    result = json.loads(_run(PARENT, run_dir, str(child_pid)))
    before, after = result["before"], result["after"]
    assert before["ctype"].startswith("text/plain")

    assert set(before["help"]) == set(METRIC_NAMES), before["help"]
    s = before["samples"]
    assert _value(s, "piyasa_messages_sent_total", worker="1") == 3
    assert _value(s, "piyasa_messages_sent_total", worker="1", bot="botA", chat="10") == 2
    assert _value(s, "piyasa_messages_failed_total", worker="1", reason="TimedOut") == 1
    assert _value(s, "piyasa_messages_skipped_total", worker="1", reason="duplicate") == 2
    assert _value(s, "piyasa_generation_seconds_count", worker="1", provider="groq") == 3
    assert _value(s, "piyasa_generation_seconds_bucket", worker="1", le="0.5") == 3
    assert _value(s, "piyasa_generation_seconds_bucket", worker="1", le="0.25") == 0
    assert _value(s, "piyasa_end_to_end_seconds_count", worker="1") == 3
    assert abs(_value(s, "piyasa_end_to_end_seconds_sum", worker="1") - 36.0) < 1e-9
    assert _value(s, "piyasa_llm_requests_total", worker="1", outcome="RateLimited") == 1
    assert _value(s, "piyasa_llm_tokens_total", worker="1", provider="groq", kind="prompt") == 300
    assert _value(s, "piyasa_llm_tokens_total", worker="1", kind="cached") == 90
    assert _value(s, "piyasa_cache_requests_total", worker="1", layer="l1", result="hit") == 10
    assert _value(s, "piyasa_cache_requests_total", worker="1", layer="l1", result="miss") == 4
    assert _value(s, "piyasa_cache_requests_total", worker="1", layer="l2", result="error") == 1
    assert _value(s, "piyasa_telegram_requests_total", worker="1", method="sendMessage") == 1
    assert _value(s, "piyasa_ratelimit_remaining", worker="1", kind="tokens") == 5000
    assert _value(s, "piyasa_worker_up", worker="1") == 1
    assert _value(s, "piyasa_worker_restarts_total", worker="1") == 1
    assert _value(s, "piyasa_provider_state", provider="groq", state="ok") == 1
    assert _value(s, "piyasa_provider_state", provider="groq", state="cooldown") == 0
    assert _value(s, "piyasa_plan_scale", provider="groq") == pytest.approx(0.28)
    assert _value(s, "piyasa_plan_affordable_messages", provider="groq") == pytest.approx(215.1)
    assert not [x for x in s if x[0] == "piyasa_plan_affordable_messages" and x[1]["provider"] == "offline"]
    assert not any("pid" in lab for n, lab, v in s if n != "piyasa_ratelimit_remaining")

    a = after["samples"]
    assert not [x for x in a if x[0] == "piyasa_ratelimit_remaining"], "live gauge survived"
    assert not any(p.name.startswith("gauge_live") and p.name.endswith(f"_{child_pid}.db")
                   for p in run_dir.iterdir())
    # counters and histograms of the dead worker are kept; the supervisor reports it down
    assert _value(a, "piyasa_messages_sent_total", worker="1") == 3
    assert _value(a, "piyasa_generation_seconds_count", worker="1") == 3
    assert _value(a, "piyasa_worker_up", worker="1") == 0
    assert [x for x in a if x[0] == "piyasa_worker_up"], "worker_up must show 0, not vanish"


def test_prepare_dir_is_fresh_and_import_is_lazy(tmp_path: Path) -> None:
    stale = tmp_path / "metrics" / "20000101T000000-999999999"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"x")
    code = """
import os, sys
from pathlib import Path
import piyasa_core.metrics as pm
assert "prometheus_client" not in sys.modules, "imported at module import time"
d = pm.prepare_multiproc_dir(Path(sys.argv[1]))
assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(d) and d.is_dir() and not any(d.iterdir())
pm.get_metrics().message_failed(0, "X")
assert pm.get_metrics() is pm.get_metrics()
print(d)
"""
    run_dir = Path(_run(code, None, str(tmp_path)).strip())
    assert run_dir.parent == tmp_path / "metrics"
    assert not stale.exists()
    assert [p.name for p in run_dir.iterdir()] == [f"counter_{run_dir.name.rsplit('-', 1)[1]}.db"]


def test_importing_prometheus_first_is_reported(tmp_path: Path) -> None:
    code = """
import os, sys
import prometheus_client
from pathlib import Path
import piyasa_core.metrics as pm
pm.prepare_multiproc_dir(Path(sys.argv[1]))
try:
    pm.get_metrics()
except RuntimeError as exc:
    print("RAISED", exc)
"""
    assert "RAISED" in _run(code, None, str(tmp_path))
