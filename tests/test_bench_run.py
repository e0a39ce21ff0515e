"""The benchmark end to end: the real supervisor with 4 workers (offline provider, console transport),
time-scaled; the CLI as a user runs it; injected faults make the right criteria fail."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import create_engine, func, insert, select, update

from piyasa_core.bench.options import resolve_options
from piyasa_core.bench.runner import BenchmarkRun
from piyasa_core.bench.timeline import load_timeline
from piyasa_core.config import load_config
from piyasa_core.store.bootstrap import initialise
from piyasa_core.store.models import Chat, Message
from piyasa_core.workers.supervisor import Supervisor
from piyasa_tui.cli import main as cli_main
from tests.bench_support import REPORT_KEYS, criteria, validate_report
from tests.engine_support import SIM_START
from tests.test_cli import EXE, run_cli

pytestmark = pytest.mark.e2e  # also run under a night clock and on a Sunday (.ci/run)

FILES = {"report.json", "report.md", "report.html", "timeseries.csv"}


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


START = "2026-11-25T10:00"  # a Wednesday morning: the run's clock never depends on the wall clock's hour or day

# At ×60 half a real second of a stalled host (a loaded CI machine) is 30 simulated seconds: late messages,
# and after a longer stall the bots' schedules restart (lost messages). The end-to-end runs below are judged
# against timing thresholds no stall can cross, so they test what the host cannot sway; the criteria fail on
# known numbers in tests/test_bench_criteria.py, and pace fails end to end in
# test_a_starved_worker_fails_the_pace_criteria.
HOST_PROOF = {"PIYASA_BENCHMARK__MAX_LATENESS_P95": "1h",  # the run is 10 simulated minutes
              "PIYASA_BENCHMARK__MAX_PACE_DEVIATION": "1.0",  # only more than twice the plan (+1) fails
              "PIYASA_BENCHMARK__PROFILES__SEED__MIN_THROUGHPUT_PER_MIN": "0.1"}  # one message in 10 minutes
TIMED = ("throughput_min", "bot_pace", "worker_pace", "lateness_p95")


def assert_timing_judged(c: dict[str, dict[str, Any]]) -> None:
    """The timing criteria were computed (a number, a status) against HOST_PROOF's thresholds."""
    for cid in TIMED:
        assert c[cid]["status"] == "pass" and isinstance(c[cid]["value"], (int, float)), (cid, c[cid])
    assert c["lateness_p95"]["threshold"] == 3600.0 and c["throughput_min"]["threshold"] == 0.1
    assert c["bot_pace"]["threshold"] == c["worker_pace"]["threshold"] == 1.0
    print("\ntiming (host-dependent, not asserted): "
          + ", ".join(f"{cid} {c[cid]['value']}" for cid in TIMED))


def test_cli_bench_passes_and_writes_every_report_and_the_timeline(workdir: Path) -> None:
    result = run_cli("bench", "--time-scale", "60", "--start-at", START, cwd=workdir, env=HOST_PROOF)
    assert result.returncode == 0, result.stdout + result.stderr
    out = workdir / "data" / "bench"
    run_dir = only_run_dir(out)
    assert {p.name for p in run_dir.iterdir()} == FILES
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    validate_report(report)
    assert set(report) == REPORT_KEYS and report["run"]["trigger"] == "cli" and report["passed"]
    c = criteria(report)
    assert_timing_judged(c)
    assert c["throughput_min"]["value"] == pytest.approx(report["totals"]["sent"] / 10)  # per simulated minute
    assert c["throughput_target"]["threshold"] == 6.0  # the seed's own target, reported beside it
    for cid in ("parallel_workers", "all_workers_produced", "duplicates", "no_crash"):
        assert c[cid]["status"] == "pass", c[cid]
    assert c["l2_hit_rate"]["status"] == "not_configured"  # shown as such, never as a silent pass
    assert report["run"]["elapsed_sim_s"] == 600.0 and report["run"]["workers"] == 4
    run = report["run"]
    assert run["profile"]["name"] == "seed" and (run["profile"]["hourly_min"], run["profile"]["hourly_max"]) == (50, 100)
    assert run["llm"] == {"provider": "offline", "model": "templates-v1", "networked": False, "time_scaled": True,
                          "emulated_latency_ms": 400.0, "emulated_latency_jitter_ms": 200.0}
    assert run["scope"]["chats"] == [f"piyasa-local@{run['id']}"]
    planned = {b["username"]: b["planned"] for b in report["pace"]["bots"]}
    assert planned["ayse_scalp"] > planned["mehmet_trader"] > planned["ali_ekonomist"]  # the personas' own pace
    assert report["quality"]["bot_messages"] == report["totals"]["sent"]
    headroom = report["capacity"]["headroom"]  # its size is the host's speed: bench/, not a test, judges it
    assert headroom["method"] == "derived" and headroom["value"] > 0 and headroom["bound"] in headroom["bounds"]
    assert set(report["cache"]["kinds"]) >= {"history", "market", "system-prompt"}
    assert "PASSED" in result.stdout and str(run_dir) in result.stdout.replace("\n", "")
    rows = load_timeline(out)
    assert len(rows) == 1 and rows[0]["id"] == report["run"]["id"] and rows[0]["profile"] == "seed"
    assert (out / "timeline.md").is_file() and (out / "timeline.html").is_file()
    db = create_engine(f"sqlite:///{workdir / 'data' / 'piyasa.db'}")
    with db.connect() as conn:  # the community's chat got nothing; the run's chat is closed
        chats = {key: (run_id, enabled) for key, run_id, enabled in conn.execute(select(Chat.key, Chat.run_id, Chat.enabled))}
        community = conn.execute(select(func.count()).select_from(Message).join(Chat, Chat.id == Message.chat_id)
                                 .where(Chat.run_id.is_(None))).scalar()
    db.dispose()
    assert chats == {"piyasa-local": (None, True), run["scope"]["chats"][0]: (run["id"], False)}
    assert community == 0


async def test_runs_in_one_database_are_measured_apart_with_redis(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    """Two 4-minute runs at ×60 on one supervisor (as the TUI's key starts them), one database and one
    Redis: each report counts its own rows and counters alone; L2 measured through the real Redis."""
    import multiprocess.resource_tracker
    import redis

    monkeypatch.setenv("REDIS_URL", redis_url)
    for name, value in HOST_PROOF.items():
        monkeypatch.setenv(name, value)
    prefix = f"b{random.getrandbits(32):x}"
    monkeypatch.setenv("PIYASA_CACHE__KEY_PREFIX", prefix)
    multiprocess.resource_tracker.ensure_running()
    config = load_config()
    initialise(config)
    supervisor = Supervisor(config, time_scale=60, sim_start=SIM_START)
    await supervisor.start()
    reports: list[dict[str, Any]] = []
    try:
        for _ in range(2):
            opts = resolve_options(config, {"time_scale": 60, "start_at": START, "formats": "json,csv",
                                            "duration": "4m"}, trigger="test")
            result = await BenchmarkRun(supervisor, opts).run()
            validate_report(result.report)
            reports.append(result.report)
        assert supervisor.scope is None  # back in the community's chats
    finally:
        await supervisor.stop()
    summary = [(r["totals"]["sent"], r["quality"]["messages"], round(r["cache"]["warm"]["l2"]["hit_rate"] or 0, 3),
                criteria(r)["bot_pace"]["value"]) for r in reports]
    print(f"\n2 runs (sent, quality messages, warm L2 hit rate, worst pace excess): {summary}")
    for r in reports:
        c = criteria(r)
        assert r["quality"]["messages"] == r["quality"]["bot_messages"] == r["totals"]["sent"] > 0, summary
        assert sum(r["pace"]["bots"][i]["delivered"] for i in range(4)) == r["totals"]["sent"]
        assert_timing_judged(c)
        for cid in ("parallel_workers", "duplicates", "no_crash"):
            assert c[cid]["status"] == "pass", (cid, c[cid])
        assert c["l2_hit_rate"]["status"] == "pass" and c["l2_hit_rate"]["value"] > 0.20, summary
        assert r["cache"]["cold"]["l1"]["hits"] + r["cache"]["cold"]["l1"]["misses"] > 0  # the warm-up is measured apart
        assert r["cache"]["saved"]["database_reads_avoided"] > 0
    assert reports[0]["run"]["scope"]["chats"] != reports[1]["run"]["scope"]["chats"]
    assert len(load_timeline(config.data_dir / "bench")) == 2
    client = redis.Redis.from_url(redis_url)
    try:  # each run's cache keys were removed with it
        assert not list(client.scan_iter(match=f"{prefix}:run:*", count=1000))
    finally:
        client.close()


def wait_for_sent(db: Any, timeout: float = 30.0, *, worker: int | None = None, at_least: int = 1) -> Any:
    """The newest sent bot message once ``at_least`` exist (the first ones may predate the window)."""
    deadline = time.monotonic() + timeout
    query = select(Message).where(Message.status == "sent", Message.bot_id.is_not(None))
    if worker is not None:
        query = query.where(Message.worker_id == worker)
    while time.monotonic() < deadline:
        with db.connect() as conn:
            rows = conn.execute(query.order_by(Message.id.desc()).limit(at_least)).all()
        if len(rows) >= at_least:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError("no message was sent in time")


def bench_with_fault(workdir: Path, inject: Callable[[Any, subprocess.Popen[str]], None],
                     *args: str, duration: str = "3m", env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """`piyasa-tui bench` (3 simulated minutes at ×60, no warm-up) with ``inject(db, proc)`` called
    while it runs; returns the report and stdout after asserting the run failed with exit code 1."""
    assert run_cli("init", cwd=workdir).returncode == 0
    proc = subprocess.Popen([str(EXE), "bench", "--time-scale", "60", "--warmup", "0", "--duration", duration,
                             "--start-at", START, *args],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    db = create_engine(f"sqlite:///{workdir / 'data' / 'piyasa.db'}")
    try:
        inject(db, proc)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        db.dispose()
    assert proc.returncode == 1, out + err
    report = json.loads((only_run_dir(workdir / "data" / "bench") / "report.json").read_text(encoding="utf-8"))
    return report, out


def test_an_injected_duplicate_fails_the_duplicates_criterion(workdir: Path) -> None:
    def inject(db: Any, _proc: subprocess.Popen[str]) -> None:
        row = wait_for_sent(db, at_least=8)
        with db.begin() as conn:  # the same text again in the same chat, and a row "sent" twice
            conn.execute(insert(Message).values(
                chat_id=row.chat_id, bot_id=row.bot_id, text=row.text.upper() + " !", status="sent",
                worker_id=row.worker_id, created_at=row.created_at, sent_at=row.sent_at, send_count=1,
                metadata={}))
            conn.execute(update(Message).where(Message.id == row.id).values(send_count=2))

    # 10 simulated minutes (10 real seconds): the 8th message (~2 simulated minutes in) comes well before the
    # end even on a host that stalls for seconds
    report, out = bench_with_fault(workdir, inject, duration="10m")
    c = criteria(report)
    assert c["duplicates"]["status"] == "fail" and c["duplicates"]["value"] == 2
    assert report["duplicates"]["same_text"] == 1 and report["duplicates"]["sent_twice"] == 1
    assert c["no_crash"]["status"] == "pass" and not report["passed"]
    assert "FAILED" in out


def test_an_injected_worker_crash_fails_the_crash_criterion(workdir: Path) -> None:
    def inject(db: Any, proc: subprocess.Popen[str]) -> None:
        wait_for_sent(db, worker=2)
        _workers_of(proc)[2].kill()

    report, _out = bench_with_fault(workdir, inject)
    c = criteria(report)
    assert c["no_crash"]["status"] == "fail" and c["no_crash"]["value"] >= 1, c["no_crash"]
    assert report["restarts"]["crashed_workers"] and report["restarts"]["crash_restarts"] >= 1
    assert c["duplicates"]["status"] == "pass"


def _workers_of(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    workers = [p for p in psutil.Process(proc.pid).children() if "resource_tracker" not in " ".join(p.cmdline())]
    assert len(workers) == 4, [p.cmdline() for p in workers]
    return sorted(workers, key=lambda p: p.pid)


def test_a_starved_worker_fails_the_pace_criteria(workdir: Path) -> None:
    """A worker that cannot run for 6 of the run's 10 real seconds (360 of 600 simulated) falls behind its
    bot's plan: the pace criteria fail and name it as the worst. A loaded host slows every worker alike,
    so the victim is judged against the others, never against a fixed count."""
    def inject(db: Any, proc: subprocess.Popen[str]) -> None:
        wait_for_sent(db, worker=1)
        victim = _workers_of(proc)[1]
        victim.suspend()
        time.sleep(6.0)  # below the heartbeat timeout: late, not crashed
        victim.resume()

    # a heartbeat timeout far above the suspension: a loaded host adds to the 6 s, and a worker taken
    # for dead would be restarted (a crash) instead of merely late
    report, out = bench_with_fault(workdir, inject, duration="10m",
                                   env={"PIYASA_SUPERVISOR__HEARTBEAT_TIMEOUT": "30"})
    c = criteria(report)
    assert c["bot_pace"]["status"] == "fail" and c["worker_pace"]["status"] == "fail", (c["bot_pace"], c["worker_pace"])
    share = {w["worker"]: w["delivered"] / w["planned"] for w in report["pace"]["workers"]}
    assert share[1] < min(v for w, v in share.items() if w != 1), report["pace"]["workers"]
    assert "worst w1" in c["worker_pace"]["detail"], c["worker_pace"]["detail"]
    mehmet = next(b for b in report["pace"]["bots"] if b["username"] == "mehmet_trader")  # bot 1 → worker 1
    assert mehmet["deviation"] < -0.3, report["pace"]
    assert c["no_crash"]["status"] == "pass" and "FAILED" in out


def test_one_worker_fails_the_parallel_criterion_with_a_clear_line(workdir: Path) -> None:
    """The seed's criterion is four workers producing side by side: one worker carrying every bot may
    keep every bot's pace, and still fails it."""
    report, out = bench_with_fault(workdir, lambda db, proc: None, "--workers", "1", env=HOST_PROOF)
    c = criteria(report)
    assert c["parallel_workers"]["status"] == "fail" and c["parallel_workers"]["value"] == 1
    assert c["parallel_workers"]["detail"] == ("1 of 1 workers produced; the benchmark requires 4 side by side "
                                               "([benchmark] workers_required)")
    assert_timing_judged(c)  # one worker keeps every bot's pace: only the parallel criterion fails
    assert report["run"]["workers"] == 1 and [b["worker"] for b in report["pace"]["bots"]] == [0] * 4
    assert ("FAILED Workers producing in parallel: 1 of 1 workers produced; the benchmark requires 4 side by side "
            "([benchmark] workers_required)") in out.splitlines()


@pytest.mark.timeout(300)  # 30 s on the real clock, besides start-up and the refused run
def test_a_networked_provider_runs_on_the_real_clock(workdir: Path) -> None:
    """Against a fake OpenAI-compatible server answering in 1 s: a scaled run is refused (exit 2, one
    line), a ×1 run records the provider, its latency and that time was not scaled."""
    from tests.fakes.llm_server import FakeLLMServer

    assert run_cli("init", cwd=workdir).returncode == 0
    with FakeLLMServer(latency_ms=1000) as fake:
        env = {"OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_API_KEY": "sk-test-" + "x" * 8}
        refused = run_cli("bench", "--provider", "openai", "--time-scale", "60", cwd=workdir, env=env)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "with provider 'openai': it answers over the network in real time" in refused.stderr
        assert not (workdir / "data" / "bench").exists()
        # a fast pace (1,200–1,800 per bot per hour: a turn every ~2–3 s, typed in under a second) and one worker
        # process, so that 30 real seconds send something even when a loaded host delays the first turns by twenty
        # (CI-like load: 20 s with four workers once sent nothing)
        fast = {**env, "PIYASA_BENCHMARK__PROFILES__SEED__HOURLY_MIN": "1200",
                "PIYASA_BENCHMARK__PROFILES__SEED__HOURLY_MAX": "1800"}
        result = run_cli("bench", "--provider", "openai", "--time-scale", "1", "--duration", "30s", "--warmup", "0", "--workers", "1",
                         "--sample-every", "5s", "--start-at", START, "--format", "json", cwd=workdir, env=fast,
                         timeout=180)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads((only_run_dir(workdir / "data" / "bench") / "report.json").read_text(encoding="utf-8"))
    validate_report(report)
    assert report["run"]["llm"] == {"provider": "openai", "model": "gpt-4o-mini", "networked": True,
                                    "time_scaled": False, "emulated_latency_ms": None, "emulated_latency_jitter_ms": None}
    assert report["totals"]["sent"] > 0, report["totals"]
    generation = report["latency"]["llm_s_by_provider"]["openai"]
    assert generation["p50"] >= 1.0  # the provider's own second, in real seconds: nothing stretched it
    assert report["latency"]["lateness_sim_s"]["p50"] >= 1.0


@pytest.mark.parametrize(("args", "named"), [
    (["--duration", "soon"], "--duration: 'soon'"),
    (["--time-scale", "0"], "--time-scale: '0' must be greater than 0"),
    (["--time-scale", "fast"], "--time-scale: 'fast' is not a number"),
    (["--format", "json,pdf"], "--format: unknown format 'pdf'"),
    (["--start-at", "25:00"], "--start-at: '25:00' is not a start time"),
    (["--start-at", "2026-11-25"], "--start-at: '2026-11-25' names no time of day"),
    (["--profile", "fast"], "--profile: 'fast' is not a profile; known: seed, everyday"),
    (["--provider", "groq", "--time-scale", "60"], "--time-scale: 60 with provider 'groq': it answers over the "
                                                  "network in real time"),
    (["--warmup=-1m"], "--warmup: '-1m'"),
    (["--sample-every", "20m"], "--sample-every: 1200 s is longer than the run"),
])
def test_bad_arguments_exit_2_with_one_line_naming_them(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                        args: list[str], named: str) -> None:
    assert cli_main(["bench", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1, err
    assert not (workdir / "data").exists()  # nothing started, nothing written


def test_out_must_be_a_directory(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "afile").write_text("x", encoding="utf-8")
    assert cli_main(["bench", "--out", "afile"]) == 2
    assert "--out: 'afile' exists and is not a directory" in capsys.readouterr().err


def test_duplicates_are_counted_with_the_engines_key(workdir: Path) -> None:
    """The same sentence with other emoji or punctuation is a duplicate; two different emoji are not."""
    from piyasa_core.bench.measures import Window, tally
    from piyasa_core.engine import repo
    from piyasa_core.store import open_store
    from piyasa_core.store.db import session_scope

    config = load_config()
    initialise(config)
    store = open_store(config)
    with session_scope(store.sessions) as session:
        bot = repo.load_profiles(session)[0]
    with store.engine.begin() as conn:
        for n, text in enumerate(["🚀", "🔥", "Katılıyorum", "Katılıyorum. 📊", "Sabır şart dostlar"]):
            mid = repo.insert_pending(conn, chat_id=bot.chat_ids[0], bot_id=bot.id, text=text, reply_to_id=None,
                                      worker_id=0, provider="offline", model="m", tokens_in=1, tokens_out=1,
                                      tokens_cached=0, generation_seconds=0.0, created_at=1000.0 + n, meta={})
            repo.mark_sent(conn, mid, None, 1000.0 + n)
    counted = tally(store.engine, Window(chat_ids=(bot.chat_ids[0],), workers=1, begin=0.0))
    assert counted.duplicate_texts == 1 and counted.resent_rows == 0
    assert counted.duplicate_examples[0]["kind"] == "same text" and len(counted.duplicate_examples[0]["message_ids"]) == 2
    store.dispose()


def test_people_ask_during_a_run_and_their_answers_are_judged(workdir: Path) -> None:
    """The humans profile, a person asking every 3 simulated minutes (--human-every): the engine's own
    addressing picks who answers; the report lists each question with its replies and judges them."""
    result = run_cli("bench", "--profile", "humans", "--human-every", "3m", "--duration", "13m", "--time-scale", "60",
                     "--start-at", START, "--format", "json,md", cwd=workdir)
    run_dir = only_run_dir(workdir / "data" / "bench")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    validate_report(report)
    people = report["people"]
    assert people["every_s"] == 180.0 and people["asked"] == 4, people  # 1.5, 4.5, 7.5, 10.5 min
    texts = [q["text"] for q in people["questions"]]
    assert texts[0].startswith(("Mehmet, ", "Ayşe, ", "Ali, ", "Zeynep, ")) and texts[1].startswith("Stop loss")
    assert texts[2].startswith("@") and " THYAO şu an kaç TL?" in texts[2]
    c = criteria(report)["human_questions"]
    q = report["quality"]
    assert q["human_questions"] == 4 and c["value"] == q["max_bots_per_human_question_10min"]
    for asked in people["questions"]:
        assert asked["replies"], asked  # every question got an answer ...
        if asked["addressed"]:  # ... first from the bot it addressed
            assert asked["replies"][0]["bot"] == asked["addressed"] and asked["answering"] == [asked["addressed"]]
        assert len({r["bot"] for r in asked["replies"] if r["after_s"] < 600}) <= 2
    assert c["status"] == "pass", c
    answers = sum(b["answers_to_people"] for b in report["pace"]["bots"])
    assert answers >= 4 and all(b["expected"] >= b["planned"] for b in report["pace"]["bots"])
    assert "## People's questions" in (run_dir / "report.md").read_text(encoding="utf-8")
    assert result.returncode == (0 if report["passed"] else 1), result.stdout + result.stderr
