"""The benchmark's report formats on hand-built reports: the JSON schema, the self-contained HTML page
with its charts, Markdown, CSV and the timeline of runs."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import threading
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from piyasa_core.bench.html import render_html
from piyasa_core.bench.timeline import (
    TIMELINE,
    append_run,
    load_timeline,
    render_timeline_markdown,
)
from piyasa_core.bench.writers import render_csv, render_json, render_markdown

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("chart-workers", "chart-throughput", "chart-latency", "chart-cache", "chart-quota")


def _criteria(rate: float, pace: float, dup: int, l2: float | None, l2_on: bool, per_worker: list[int]) -> list[dict]:
    def c(id_: str, name: str, status: str, value: Any, threshold: Any, op: str, detail: str,
          required: bool = True) -> dict[str, Any]:
        return {"id": id_, "name": name, "status": status, "value": value, "threshold": threshold, "op": op,
                "detail": detail, "required": required}

    out = [c("throughput_min", "Throughput (minimum)", "pass" if rate >= 4 else "fail", rate, 4.0, ">=",
             f"{rate:.2f} msg/min (minimum 4)"),
           c("throughput_target", "Throughput (target)", "pass" if rate >= 6 else "fail", rate, 6.0, ">=",
             f"{rate:.2f} msg/min (target 6; reported, the minimum decides)", required=False),
           c("bot_pace", "Each bot on its planned pace", "pass" if pace <= 0.15 else "fail", pace, 0.15, "<=",
             "worst Ali Hoca: 11 delivered of 13.5 planned"),
           c("worker_pace", "Each worker on its planned pace", "pass" if pace <= 0.15 else "fail", pace, 0.15, "<=",
             f"per worker: {', '.join(f'w{i} {n}' for i, n in enumerate(per_worker))}"),
           c("parallel_workers", "Workers producing in parallel", "pass", 4, 4, ">=", "4 of 4 workers produced"),
           c("lateness_p95", "Lateness p95 (due → sent)", "pass", 2.4, 30.0, "<=", "p95 2.40 s simulated"),
           c("duplicates", "Duplicates", "pass" if dup == 0 else "fail", dup, 0, "<=",
             f"{dup} exact duplicate message(s): same normalised text in a chat, or a row sent twice")]
    if l2_on:
        out.append(c("l2_hit_rate", "L2 cache hit rate (warm)", "pass" if (l2 or 0) > 0.2 else "fail", l2, 0.2, ">",
                     f"{(l2 or 0) * 100:.1f} % of 40 L2 lookups (must exceed 20 %)"))
    else:
        out.append(c("l2_hit_rate", "L2 cache hit rate (warm)", "not_configured", None, 0.2, ">",
                     "not configured: no Redis ([cache] redis_url / REDIS_URL), so not measured"))
    out += [c("all_workers_produced", "Every worker produced", "pass", 4, 4, ">=", "all produced"),
            c("no_crash", "No worker crashed", "pass", 0, 0, "<=", "no crash")]
    return out


def _pct(count: int, p50: float, p95: float, top: float) -> dict[str, Any]:
    return {"count": count, "p50": p50, "p90": p95 * 0.9, "p95": p95, "p99": top * 0.95, "max": top}


def _provider(state: str = "ok", quota: tuple[int | None, int | None] = (None, None),
              limits: tuple[int | None, int | None] = (None, None), tokens: int = 0, tpd: int = 0,
              errors: dict[str, int] | None = None) -> dict[str, Any]:
    return {"state": state, "remaining_requests": quota[0], "limit_requests": limits[0],
            "remaining_tokens": quota[1], "limit_tokens": limits[1], "tokens_today": tokens, "tpd": tpd,
            "errors": errors or {}}


def make_report(*, groq: bool = False, run_id: str = "20251031T100000Z-ab12", rate: float = 5.0,
                pace: float = 0.08, state: str = "completed", started_at: str = "2025-10-31T10:00:00+00:00",
                passed: bool | None = None, profile: str = "seed") -> dict[str, Any]:
    """A full report like build_report makes: 4 workers, 3 samples of 10 simulated minutes at ×60; the
    offline provider without quotas, or (``groq``) Groq with rate-limit quotas and Redis as L2."""
    per_worker = [13, 12, 12, 13]
    t = [200.0, 400.0, 600.0]
    cum = [[4, 4, 4, 5], [9, 8, 8, 9], per_worker]
    cache = [{"l1_hits": 3, "l1_misses": 20, "l2_hits": 2 if groq else 0, "l2_misses": 10 if groq else 0,
              "l2_errors": 0},
             {"l1_hits": 9, "l1_misses": 38, "l2_hits": 8 if groq else 0, "l2_misses": 18 if groq else 0,
              "l2_errors": 0},
             {"l1_hits": 15, "l1_misses": 56, "l2_hits": 12 if groq else 0, "l2_misses": 28 if groq else 0,
              "l2_errors": 1 if groq else 0}]
    samples = []
    for i, (ts, counts) in enumerate(zip(t, cum, strict=True)):
        providers = {"offline": _provider()}
        if groq:
            providers = {"groq": _provider(quota=(30 - 4 * i, 6000 - 900 * i), limits=(30, 6000),
                                           tokens=900 * (i + 1), tpd=500000,
                                           errors={"rate_limited": 1} if i == 2 else {}),
                         "offline": _provider(state="ok")}
        samples.append({"t_sim": ts, "t_real": round(ts / 60, 3), "sent": sum(counts), "sent_per_worker": counts,
                        "throughput_per_min": sum(counts) / (ts / 60), "cache": cache[i], "restarts": 0,
                        "worker_states": ["running"] * 4, "providers": providers})
    l2_on = groq
    l2_rate = 12 / 40 if l2_on else None
    criteria = _criteria(rate, pace, 0, l2_rate, l2_on, per_worker)
    provider = "groq" if groq else "offline"
    return {
        "schema": "piyasa.bench/2",
        "run": {
            "id": run_id, "state": state, "trigger": "cli", "started_at": started_at,
            "finished_at": "2025-10-31T10:10:05+00:00", "real_seconds": 10.4,
            "sim_started_at": "2025-10-31T07:00:00+00:00", "duration_s": 600.0, "elapsed_sim_s": 600.0,
            "time_scale": 60.0, "sample_every_s": 200.0, "start_at": "10:00", "warmup_s": 60.0, "version": "0.1.0",
            "git_revision": "0123456789ab+dirty",
            "host": {"name": "bench-host", "platform": "Linux-6.1-x86_64", "python": "3.11.9", "cpus": 2},
            "workers": 4,
            "profile": {"name": profile, "description": "the older system's 10-minute test", "hourly_min": 50,
                        "hourly_max": 100, "min_throughput_per_min": 4.0, "target_throughput_per_min": 6.0,
                        "rhythm": False},
            "llm": {"provider": provider, "model": "llama-3.1-8b-instant" if groq else "templates",
                    "networked": groq, "time_scaled": not groq, "emulated_latency_ms": None if groq else 400.0,
                    "emulated_latency_jitter_ms": None if groq else 200.0},
            "scope": {"chats": [f"piyasa-local@{run_id}"], "cache_prefix": f"piyasa:run:{run_id}"},
            "thresholds": {"min_throughput_per_min": 4.0, "target_throughput_per_min": 6.0, "max_pace_deviation": 0.15,
                           "workers_required": 4, "max_lateness_p95": 30.0, "max_duplicates": 0,
                           "min_l2_hit_rate": 0.2},
            "providers": {"active": provider, "states": {"offline": "ok"} | ({"groq": "ok"} if groq else {})},
            "config": {"database": "sqlite:///data/piyasa.db",
                       "redis": "redis://:***@127.0.0.1:6379/0" if groq else None, "transport": "console",
                       "engine": {"timezone": "Europe/Istanbul", "hourly_min": 50, "hourly_max": 100,
                                  "history_lines": 12, "seed": 0},
                       "llm": {"active": provider, "fallback": ["offline"] if groq else [],
                               "models": {"groq": "llama-3.1-8b-instant", "offline": "templates"}},
                       "bots_enabled": 6, "chats": 1},
        },
        "totals": {"sent": 50, "failed": 1 if groq else 0, "pending": 2, "throughput_per_min": rate,
                   "per_worker": per_worker,
                   "per_bot": {"ayse": 9, "baris": 8, "<script>alert(1)</script>": 8, "deniz": 9, "ece": 8,
                               "fatih": 8},
                   "per_chat": {"piyasa-local": 50}, "worker_cv": 0.04},
        "pace": {"profile": profile, "hourly_min": 50, "hourly_max": 100, "window_s": 600.0, "slack_messages": 1.0,
                 "bots": [{"bot": name, "username": user, "persona": persona, "speed": speed, "worker": w,
                           "base_per_hour": base, "planned": planned, "delivered": got, "planned_per_hour": planned * 6,
                           "delivered_per_hour": got * 6.0, "active_s": 600.0,
                           "deviation": round((got - planned) / planned, 4)}
                          for name, user, persona, speed, w, base, planned, got in (
                              ("Mehmet Yatırımcı", "mehmet_trader", "investor", "medium", 1, 75.0, 15.6, 13),
                              ("<script>alert(1)</script>", "ayse_scalp", "scalper", "fast", 2, 85.0, 16.7, 12),
                              ("Ali Hoca", "ali_ekonomist", "economist", "slow", 3, 65.0, 13.5, 13),
                              ("Zeynep Yeni", "zeynep_newbie", "newbie", "medium", 0, 75.0, 12.5, 12))],
                 "workers": [{"worker": w, "bots": [b], "planned": planned, "delivered": got,
                              "deviation": round((got - planned) / planned, 4)}
                             for w, b, planned, got in ((0, "Zeynep Yeni", 12.5, 12), (1, "Mehmet Yatırımcı", 15.6, 13),
                                                        (2, "Ayşe Scalper", 16.7, 12), (3, "Ali Hoca", 13.5, 13))]},
        "latency": {"llm_s": ({"count": 50, "p50": 0.41, "p90": 0.88, "p95": 1.02, "p99": 1.9, "max": 2.3}
                              if groq else {"count": 50, "p50": 0.001, "p90": 0.002, "p95": 0.002, "p99": 0.004,
                                            "max": 0.005}),
                    "llm_s_by_provider": {provider: _pct(50, 0.41, 1.02, 2.3) if groq else _pct(50, 0.001, 0.002, 0.005)},
                    "end_to_end_sim_s": {"count": 50, "p50": 12.0, "p90": 31.5, "p95": 40.2, "p99": 58.0,
                                         "max": 61.7},
                    "lateness_sim_s": _pct(50, 0.9, 2.4, 6.1)},
        "capacity": {"headroom": {"method": "derived", "value": 12.5 if not groq else 2.1,
                                  "bound": "cpu (host)" if not groq else "groq requests/min",
                                  "bounds": {"cpu (host)": 12.5, "cpu (worker 2)": 20.0} | (
                                      {"groq requests/min": 2.1} if groq else {}),
                                  "cpu_seconds": 1.6, "cpu_ms_per_message": 32.0, "real_seconds": 10.0}},
        "tokens": {provider: {"in": 8000 if groq else 0, "out": 1500 if groq else 0, "cached": 0, "messages": 50}},
        "cache": {"l1": {"hits": 15, "misses": 56, "hit_rate": 15 / 71},
                  "l2": {"configured": l2_on, "hits": 12 if groq else 0, "misses": 28 if groq else 0,
                         "errors": 1 if groq else 0, "hit_rate": l2_rate},
                  "cold": {"l1": {"hits": 3, "misses": 20, "hit_rate": 3 / 23},
                           "l2": {"hits": 2 if groq else 0, "misses": 10 if groq else 0,
                                  "hit_rate": 2 / 12 if groq else None}},
                  "warm": {"l1": {"hits": 12, "misses": 36, "hit_rate": 12 / 48},
                           "l2": {"hits": 10 if groq else 0, "misses": 18 if groq else 0,
                                  "hit_rate": 10 / 28 if groq else None}},
                  "kinds": {"history": {"lookups": 30, "l1_hits": 4, "l2_hits": 8 if groq else 0, "loads": 18,
                                        "loads_avoided": 12, "mean_load_ms": 1.8, "l2_ms": 3.0, "saved_ms": 18.6},
                            "market": {"lookups": 18, "l1_hits": 8, "l2_hits": 2 if groq else 0, "loads": 8,
                                       "loads_avoided": 10, "mean_load_ms": 0.1, "l2_ms": 1.0, "saved_ms": 0.0}},
                  "saved": {"database_reads_avoided": 12, "ms_total": 18.6, "ms_per_message": 0.372}},
        "errors": {"provider": {"groq": {"rate_limited": 1}, "offline": {}} if groq else {"offline": {}},
                   "telegram": {"timeout": 1} if groq else {},
                   "engine": {"sent": 50, "skipped_promise": 1, "paraphrased": 2}},
        "restarts": {"crash_restarts": 0, "crashed_workers": []},
        "duplicates": {"same_text": 0, "sent_twice": 0, "examples": [], "near": 1,
                       "near_examples": [{"message_ids": [7, 19], "score": 91.2,
                                          "texts": ["Sabır şart, GARAN uzun vadede taşınır dostlar",
                                                    "Sabır şart, GARAN uzun vadede taşınır arkadaşlar"]}]},
        "quality": {"messages": 50, "bot_messages": 50, "bot_to_bot_reply_rate": 0.42, "human_reply_count": 0,
                    "distinct_3gram_ratio": 0.93, "topic_spread": {"BIST": 0.4, "döviz": 0.35, "altın": 0.25},
                    "top_topic_share": 0.4, "artifact_count": 1,
                    "artifact_examples": [["Bence <b>BIST</b> yukarı", ["html_tag"]]],
                    "distinct_system_prompts": 6, "duplicates": 0, "artifact_classes": {"markdown": 1},
                    "mention_rate": 0.08, "self_mentions": 0, "mentions_of_reply_author": 0,
                    "emoji_rate_by_bot": {"ayse_scalp": 0.5, "ali_ekonomist": 0.1}, "human_questions": 0,
                    "human_questions_answered": 0, "replies_per_human_question": 0.0,
                    "max_bots_per_human_question_10min": 0, "time_phrase_violations": 0, "time_phrase_examples": [],
                    "question_replies": 4, "answered_question_rate": 0.75, "human_questions_with_answer": 0,
                    "addressed_human_questions": 0, "addressed_answered_first": 0, "questions": 5,
                    "unanswered_repeats": 1, "unanswered_repeat_rate": 0.2, "near_duplicates": 1,
                    "near_duplicate_rate": 0.02, "echoed_prices": 1, "echoed_price_rate": 0.01, "misdirected_pleasantries": 0,
                    "harmony_errors": 0, "sign_offs": 1, "sign_off_then_spoke": 0,
                    "answer_examples": [["BIST30 nedir?", "BIST30, en büyük 30 şirketin endeksidir.", True]]},
        "people": {"every_s": None, "asked": 0, "questions": []},
        "criteria": criteria,
        "passed": (state == "completed" and rate >= 4 and pace <= 0.15) if passed is None else passed,
        "samples": samples,
    }


@pytest.fixture(params=["offline", "groq"])
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    return make_report(groq=request.param == "groq")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(files("piyasa_core.bench").joinpath("schema.json").read_text(encoding="utf-8"))


# ── schema ───────────────────────────────────────────────────────────────────────────────────────
def test_report_validates_against_the_schema(report: dict[str, Any], schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert list(validator.iter_errors(report)) == []
    assert list(validator.iter_errors(json.loads(render_json(report)))) == []  # round trip through JSON


def test_schema_requires_every_top_level_key_and_rejects_drift(schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema)
    good = make_report()
    assert set(schema["required"]) == set(good) == set(schema["properties"])
    for key in good:
        broken = {k: v for k, v in good.items() if k != key}
        assert not validator.is_valid(broken), key
    for mutate in (lambda r: r.__setitem__("schema", "piyasa.bench/1"),
                   lambda r: r["pace"]["bots"][0].__setitem__("planned", -1),
                   lambda r: r["criteria"][2].__setitem__("id", "worker_balance"),
                   lambda r: r["criteria"][0].__setitem__("status", "ok"),
                   lambda r: r["totals"].__setitem__("throughput_per_min", "5"),
                   lambda r: r["run"].__setitem__("unexpected", 1),
                   lambda r: r["samples"][0]["providers"]["offline"].__setitem__("remaining_requests", 1.5),
                   lambda r: r["cache"]["l2"].__setitem__("configured", "no")):
        bad = copy.deepcopy(good)
        mutate(bad)
        assert not validator.is_valid(bad)
    dup = copy.deepcopy(good)
    dup["duplicates"].update(same_text=1, sent_twice=1, examples=[
        {"kind": "sent twice", "message_id": 41, "chat": "piyasa-local", "sends": 2},
        {"kind": "same text", "message_ids": [12, 40]}])
    assert validator.is_valid(dup)
    dup["duplicates"]["examples"].append({"kind": "same text", "message_id": 3})
    assert not validator.is_valid(dup)


def test_schema_is_package_data() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert "bench/schema.json" in text
    assert files("piyasa_core.bench").joinpath("schema.json").is_file()


def _schema_keys(node: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        keys |= set(node.get("properties", {}))
        for value in node.values():
            keys |= _schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= _schema_keys(value)
    return keys


def test_docs_describe_every_schema_field(schema: dict[str, Any]) -> None:
    doc = (REPO / "docs" / "benchmark.md").read_text(encoding="utf-8")
    missing = sorted(k for k in _schema_keys(schema) if f"`{k}`" not in doc)
    assert missing == []
    from piyasa_core.bench.timeline import FIELDS
    assert sorted(k for k in FIELDS if f"`{k}`" not in doc) == []


# ── HTML ─────────────────────────────────────────────────────────────────────────────────────────
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictParser(HTMLParser):
    """Records every element and checks that start and end tags nest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.figures: dict[str, int] = {}  # figure id -> <svg> count inside it
        self.figcaptions = 0
        self._figure: str | None = None
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "figure":
            self._figure = dict(attrs).get("id") or ""
            self.figures[self._figure] = 0
        if tag == "svg" and self._figure is not None:
            self.figures[self._figure] += 1
        self.figcaptions += tag == "figcaption"
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "figure":
            self._figure = None


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []
    return parser


def assert_offline(page: str) -> None:
    """No reference leaves the file: no http(s) except xmlns namespace URIs, no script/link/url()."""
    without_ns = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", page)
    assert not re.search(r"https?://", without_ns), re.search(r".{60}https?://.{60}", without_ns)
    assert "url(" not in page
    assert "@import" not in page
    assert not re.search(r"<script\b", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert not re.search(r"\s(src|xlink:href)=", page, re.IGNORECASE)


def test_html_is_self_contained_with_five_charts(report: dict[str, Any]) -> None:
    page = render_html(report)
    parser = parse(page)
    for fig in FIGURES:
        assert parser.figures.get(fig, 0) >= 1, fig
    assert parser.figcaptions >= len(FIGURES)
    assert_offline(page)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<script>alert(1)</script>" not in page  # a bot name is text, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Bence &lt;b&gt;BIST&lt;/b&gt;" in page
    for c in report["criteria"]:
        assert c["name"] in page
    assert "PASSED" in page


def test_html_offline_run_says_no_quota_and_l2_not_configured() -> None:
    page = render_html(make_report())
    quota = page.split('id="chart-quota"')[1].split("</figure>")[0]
    assert "no quota reported (offline provider has no limits)" in quota
    cache = page.split('id="chart-cache"')[1].split("</figure>")[0]
    assert "not configured" in cache
    assert "L2 since the start" not in cache


def test_html_groq_run_charts_quota_and_l2() -> None:
    page = render_html(make_report(groq=True))
    quota = page.split('id="chart-quota"')[1].split("</figure>")[0]
    assert "groq requests left" in quota and "groq tokens left" in quota
    assert "no quota reported" not in quota
    cache = page.split('id="chart-cache"')[1].split("</figure>")[0]
    assert "L2 since the start" in cache and "L1 since the start" in cache
    workers = page.split('id="chart-workers"')[1].split("</figure>")[0]
    assert all(f"worker {i}" in workers for i in range(4))
    assert page.split('id="chart-latency"')[1].split("</figure>")[0].count("<svg") == 2


def test_html_verdicts_and_empty_run() -> None:
    cancelled = make_report(state="cancelled", passed=False)
    assert "CANCELLED" in render_html(cancelled)
    failed = make_report(rate=2.0)
    assert "FAILED" in render_html(failed)
    empty = make_report()
    empty["samples"] = []
    nothing = {"count": 0, "p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    empty["latency"] = {"llm_s": nothing, "llm_s_by_provider": {}, "end_to_end_sim_s": nothing,
                        "lateness_sim_s": nothing}
    page = render_html(empty)
    parser = parse(page)
    assert all(parser.figures.get(f, 0) >= 1 for f in FIGURES)
    assert_offline(page)


# ── Markdown and CSV ─────────────────────────────────────────────────────────────────────────────
def test_markdown_has_the_criteria_table(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    assert "| Criterion | Result | Value | Threshold | Detail |" in text
    for c in report["criteria"]:
        assert re.search(rf"^\| {re.escape(c['name'])} \|", text, re.MULTILINE), c["name"]
    assert "not configured" in text if not report["cache"]["l2"]["configured"] else "30.0 %" in text


def test_the_report_carries_the_days_plan(schema: dict[str, Any]) -> None:
    """A run on a chain with daily quotas reports the day's plan (JSON and Markdown); an unlimited one says so."""
    from piyasa_core.llm.quota_plan import ProviderDay, plan_day

    plan = plan_day([ProviderDay("groq", tpd=100_000, used_tokens=40_000)], at=1_795_590_300, day_end=1_795_636_800,
                    demand=400, demand_at_minimum=150, tokens_per_message=465).to_dict()
    quoted = make_report(groq=True)
    quoted["run"]["day_plan"] = plan
    assert list(Draft202012Validator(schema).iter_errors(quoted)) == []
    text = render_markdown(quoted)
    assert "## The day's LLM plan" in text and "| groq | 40000/100000 |" in text and "129 |" in text
    assert "kept for people" in text and "Warning" in text  # 116 affordable against 150 at the minimum
    assert "no daily quota in the chain" in render_markdown(make_report())


def test_csv_has_a_header_and_one_row_per_sample(report: dict[str, Any]) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["t_sim_s", "t_real_s", "sent", "throughput_per_min"]
    assert [f"sent_w{i}" for i in range(4)] == header[4:8]
    assert len(body) == len(report["samples"])
    assert all(len(r) == len(header) for r in body)
    assert [float(r[0]) for r in body] == [s["t_sim"] for s in report["samples"]]


# ── timeline ─────────────────────────────────────────────────────────────────────────────────────
def _append(out: Path, report: dict[str, Any]) -> None:
    append_run(out, report, out / report["run"]["id"])


def _data_rows(markdown: str) -> list[str]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|---"))
    return [line for line in lines[start + 1:] if line.startswith("| ")]


def test_timeline_appends_and_compares(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    runs = [make_report(run_id="r1", rate=2.0, pace=0.20, started_at="2025-10-28T10:00:00+00:00"),
            make_report(run_id="r2", rate=5.0, pace=0.10, started_at="2025-10-30T10:00:00+00:00", groq=True),
            make_report(run_id="r3", rate=4.0, pace=0.12, started_at="2025-10-31T10:00:00+00:00"),
            make_report(run_id="e1", rate=1.2, pace=0.05, started_at="2025-10-31T11:00:00+00:00", profile="everyday")]
    for r in runs:
        _append(out, r)
    lines = (out / TIMELINE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert first["id"] == "r1" and first["run_dir"] == "r1" and first["pace_deviation"] == 0.20
    assert first["profile"] == "seed" and first["lateness_p95_s"] == 2.4 and first["near_duplicates"] == 1
    assert first["l2_configured"] is False and first["l2_hit_rate"] is None
    assert json.loads(lines[1])["l2_hit_rate"] == pytest.approx(10 / 28)  # the warm part
    from piyasa_core.bench.timeline import FIELDS
    assert all(list(json.loads(line)) == list(FIELDS) for line in lines)

    md = (out / "timeline.md").read_text(encoding="utf-8")
    rows = _data_rows(md)
    assert len(rows) == 4
    assert "baseline" in rows[0]
    assert "×2.50 (+3.00)" in rows[1]  # vs previous and vs best (r1 is both)
    assert "10.0 %" in rows[1] and "new best" in rows[1]
    assert "×0.80 (-1.00)" in rows[2]  # r3 against r2: previous and best
    assert "12.0 %" in rows[2] and "new best" not in rows[2]
    assert "| everyday |" in rows[3] and "baseline" in rows[3]  # another profile: never compared with seed runs
    assert "best completed run r2" in md

    html = (out / "timeline.html").read_text(encoding="utf-8")
    parser = parse(html)
    assert parser.figures.get("chart-timeline") == 1
    assert_offline(html)
    assert html.count('href="r') == 3 and html.count('href="e1') == 1


def test_timeline_best_ignores_cancelled_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    _append(out, make_report(run_id="a", rate=3.0))
    _append(out, make_report(run_id="b", rate=9.0, state="cancelled", passed=False))
    _append(out, make_report(run_id="c", rate=4.5))
    rows = _data_rows((out / "timeline.md").read_text(encoding="utf-8"))
    assert "cancelled" in rows[1]
    assert "×0.50 (-4.50)" in rows[2]  # vs previous (the cancelled run)
    assert "×1.50 (+1.50)" in rows[2]  # vs best: the completed run a, not the cancelled b


def test_timeline_skips_corrupt_lines_and_reports_them(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    _append(out, make_report(run_id="r1"))
    with (out / TIMELINE).open("a", encoding="utf-8") as handle:
        handle.write('{"id": "half-written", "thr')  # a writer died mid-line: no newline
    _append(out, make_report(run_id="r2"))
    _append(out, make_report(run_id="r3"))
    rows = load_timeline(out)
    assert [r["id"] for r in rows] == ["r1", "r2", "r3"]
    assert rows.skipped == [2]
    md = (out / "timeline.md").read_text(encoding="utf-8")
    assert len(_data_rows(md)) == 3
    assert "1 unreadable line(s) in timeline.jsonl skipped (line 2)" in md
    assert "1 unreadable line(s)" in (out / "timeline.html").read_text(encoding="utf-8")
    assert "unreadable" not in render_timeline_markdown(list(rows))


def test_timeline_concurrent_appends_do_not_interleave(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for k in range(3):
                _append(out, make_report(run_id=f"t{n}-{k}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = load_timeline(out)
    assert rows.skipped == []
    assert sorted(r["id"] for r in rows) == sorted(f"t{n}-{k}" for n in range(4) for k in range(3))
    assert not list(out.glob(".timeline.*"))  # no temporary file left behind


def test_write_run_writes_every_format_and_the_timeline(tmp_path: Path, schema: dict[str, Any]) -> None:
    from piyasa_core.bench.options import BenchOptions
    from piyasa_core.bench.report import write_run

    report = make_report(groq=True)
    opts = BenchOptions(duration=600.0, time_scale=60.0, sample_every=200.0, out_dir=tmp_path / "bench")
    run_dir, written = write_run(report, opts)
    assert run_dir == tmp_path / "bench" / report["run"]["id"]
    assert sorted(written) == ["report.html", "report.json", "report.md", "timeseries.csv"]
    Draft202012Validator(schema).validate(json.loads((run_dir / "report.json").read_text(encoding="utf-8")))
    parse((run_dir / "report.html").read_text(encoding="utf-8"))
    rows = load_timeline(tmp_path / "bench")
    assert [r["run_dir"] for r in rows] == [report["run"]["id"]]
    assert (tmp_path / "bench" / "timeline.md").exists() and (tmp_path / "bench" / "timeline.html").exists()


def test_timeline_draws_a_run_that_sent_nothing(tmp_path: Path) -> None:
    """A run with no worker CV (nothing sent: every answer rejected, or the provider down) still gets
    its timeline page; pygal cannot scale an axis with no value at all."""
    out = tmp_path / "bench"
    report = make_report(run_id="z", rate=0.0)
    report["totals"]["worker_cv"] = None
    _append(out, report)
    html = (out / "timeline.html").read_text(encoding="utf-8")
    assert parse(html).figures.get("chart-timeline") == 1 and "worker CV (right axis)" not in html


def test_html_marks_results_with_words_not_emoji_alone() -> None:
    """A page without an emoji font showed empty boxes for pass/fail: the HTML says PASS/FAIL in a badge."""
    from piyasa_core.bench.html import render_html

    page = render_html(make_report(groq=True))
    assert '<span class="badge pass">PASS</span>' in page or '<span class="badge fail">FAIL</span>' in page
    assert "✅" not in page and "❌" not in page
