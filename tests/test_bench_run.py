"""The benchmark end to end: the real supervisor with 4 workers (offline provider, console transport),
time-scaled; the CLI as a user runs it; injected faults make the right criteria fail."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import create_engine, insert, select, update

from piyasa_core.bench.options import resolve_options
from piyasa_core.bench.runner import BenchmarkRun, sim_start_for
from piyasa_core.bench.timeline import load_timeline
from piyasa_core.config import load_config
from piyasa_core.store.bootstrap import initialise
from piyasa_core.store.models import Message
from piyasa_core.workers.supervisor import Supervisor
from piyasa_tui.cli import main as cli_main
from tests.bench_support import REPORT_KEYS, criteria, validate_report
from tests.test_cli import EXE, run_cli

FILES = {"report.json", "report.md", "report.html", "timeseries.csv"}


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_cli_bench_passes_and_writes_every_report_and_the_timeline(workdir: Path) -> None:
    result = run_cli("bench", "--time-scale", "60", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    out = workdir / "data" / "bench"
    run_dir = only_run_dir(out)
    assert {p.name for p in run_dir.iterdir()} == FILES
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    validate_report(report)
    assert set(report) == REPORT_KEYS and report["run"]["trigger"] == "cli" and report["passed"]
    c = criteria(report)
    assert c["throughput_target"]["status"] == "pass" and c["throughput_target"]["value"] >= 6.0
    assert c["worker_balance"]["value"] <= 0.15 and c["duplicates"]["value"] == 0
    assert c["l2_hit_rate"]["status"] == "not_configured"  # shown as such, never as a silent pass
    assert report["run"]["elapsed_sim_s"] == 600.0 and report["run"]["workers"] == 4
    assert "PASSED" in result.stdout and str(run_dir) in result.stdout.replace("\n", "")
    rows = load_timeline(out)
    assert len(rows) == 1 and rows[0]["id"] == report["run"]["id"]
    assert (out / "timeline.md").is_file() and (out / "timeline.html").is_file()


async def test_five_ten_minute_runs_meet_the_seed_criteria_with_redis(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    """Five back-to-back 10-minute runs at ×60 on running workers; L2 measured through the real Redis."""
    import multiprocess.resource_tracker

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PIYASA_CACHE__KEY_PREFIX", f"b{random.getrandbits(32):x}")
    multiprocess.resource_tracker.ensure_running()
    config = load_config()
    initialise(config)
    # 10:00 simulated: the four default personas are all active 10:00–12:00, the five runs take ~1 h
    supervisor = Supervisor(config, time_scale=60, sim_start=sim_start_for("10:00", "Europe/Istanbul"))
    await supervisor.start()
    outcomes: list[dict[str, Any]] = []
    try:
        for i in range(5):  # the workers are warm after the first run's warm-up
            opts = resolve_options(config, {"time_scale": 60, "start_at": "", "formats": "json,csv",
                                            "warmup": "1m" if i == 0 else "0s"}, trigger="test")
            result = await BenchmarkRun(supervisor, opts, own_clock=False).run()
            validate_report(result.report)
            outcomes.append(criteria(result.report))
    finally:
        await supervisor.stop()
    summary = [(round(c["throughput_target"]["value"], 2), round(c["worker_balance"]["value"], 3),
                c["duplicates"]["value"], round(c["l2_hit_rate"]["value"] or 0, 3)) for c in outcomes]
    print(f"\n5 runs (msg/min, CV, duplicates, L2 hit rate): {summary}")
    for c in outcomes:
        assert c["throughput_target"]["status"] == "pass", summary  # ≥ 6.0 simulated msg/min
        assert c["worker_balance"]["status"] == "pass", summary  # CV ≤ 0.15
        assert c["duplicates"]["status"] == "pass" and c["duplicates"]["value"] == 0, summary
        assert c["l2_hit_rate"]["status"] == "pass" and c["l2_hit_rate"]["value"] > 0.20, summary
        assert c["no_crash"]["status"] == "pass" and c["all_workers_produced"]["status"] == "pass"
    assert len(load_timeline(config.data_dir / "bench")) == 5  # one row per run


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


def bench_with_fault(workdir: Path, inject: Callable[[Any, subprocess.Popen[str]], None]) -> tuple[dict[str, Any], str]:
    """`piyasa-tui bench` (3 simulated minutes at ×60, no warm-up) with ``inject(db, proc)`` called
    while it runs; returns the report and stdout after asserting the run failed with exit code 1."""
    assert run_cli("init", cwd=workdir).returncode == 0
    proc = subprocess.Popen([str(EXE), "bench", "--time-scale", "60", "--warmup", "0", "--duration", "3m"],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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

    report, out = bench_with_fault(workdir, inject)
    c = criteria(report)
    assert c["duplicates"]["status"] == "fail" and c["duplicates"]["value"] == 2
    assert report["duplicates"]["same_text"] == 1 and report["duplicates"]["sent_twice"] == 1
    assert c["no_crash"]["status"] == "pass" and not report["passed"]
    assert "FAILED" in out


def test_an_injected_worker_crash_fails_the_crash_criterion(workdir: Path) -> None:
    def inject(db: Any, proc: subprocess.Popen[str]) -> None:
        wait_for_sent(db, worker=2)
        workers = [p for p in psutil.Process(proc.pid).children()
                   if "resource_tracker" not in " ".join(p.cmdline())]
        assert len(workers) == 4, [p.cmdline() for p in workers]
        sorted(workers, key=lambda p: p.pid)[2].kill()

    report, _out = bench_with_fault(workdir, inject)
    c = criteria(report)
    assert c["no_crash"]["status"] == "fail" and c["no_crash"]["value"] >= 1, c["no_crash"]
    assert report["restarts"]["crashed_workers"] and report["restarts"]["crash_restarts"] >= 1
    assert c["duplicates"]["status"] == "pass"


@pytest.mark.parametrize(("args", "named"), [
    (["--duration", "soon"], "--duration: 'soon'"),
    (["--time-scale", "0"], "--time-scale: '0' must be greater than 0"),
    (["--time-scale", "fast"], "--time-scale: 'fast' is not a number"),
    (["--format", "json,pdf"], "--format: unknown format 'pdf'"),
    (["--start-at", "25:00"], "--start-at: '25:00' is not a time"),
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
    counted = tally(store.engine, Window(after_id=0, workers=1, begin=0.0))
    assert counted.duplicate_texts == 1 and counted.resent_rows == 0
    assert counted.duplicate_examples[0]["kind"] == "same text" and len(counted.duplicate_examples[0]["message_ids"]) == 2
    store.dispose()
