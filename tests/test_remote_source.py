"""The attach path: a snapshot source over a real `--serve` control API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from piyasa_core.control import ControlError
from piyasa_core.secrets import Secret
from piyasa_tui.remote import RemoteSource
from tests.bench_support import REPORT_KEYS, validate_report
from tests.test_serve import served  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e  # also run under a night clock and on a Sunday (.ci/run)


async def test_remote_source_follows_and_acts(served: tuple[subprocess.Popen[str], str, str], workdir: Path) -> None:
    _proc, url, token = served
    source = RemoteSource(url, Secret(token))
    await source.start()
    try:
        assert len(source.snapshot().workers) == 4
        events = source.subscribe()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(w.state == "running" for w in source.snapshot().workers):
            await asyncio.sleep(0.2)
        assert all(w.state == "running" for w in source.snapshot().workers)
        result = await source.switch_provider("gemini")
        assert result["provider"] == "gemini"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and source.snapshot().active_provider != "gemini":
            await asyncio.sleep(0.1)
        assert source.snapshot().active_provider == "gemini"
        await source.switch_provider("offline")  # gemini has no key here: nothing could be generated
        posted = await source.post_human("piyasa-local", "@zeynep_newbie altın alınır mı?", "Deniz")
        assert posted["answering"] == [4]
        answered = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not answered:
            item = await asyncio.wait_for(events.get(), timeout=20)
            answered = item["type"] == "message" and item["data"]["bot_name"] == "Zeynep Yeni" and \
                item["data"]["mode"] == "human_reply"
        assert answered
        # the benchmark through the control API: bad input is a 400 naming the field, a second start a 409
        try:
            await source.benchmark("start", {"duration": "soon"})
            raise AssertionError("a bad duration must be refused")
        except ControlError as exc:
            assert exc.status == 400 and 'field "duration"' in str(exc) and "'soon'" in str(exc)
        started = await source.benchmark("start", {"duration": "1m", "time_scale": 60, "warmup": "10s"})
        assert started["ok"] and started["duration_s"] == 60.0
        try:
            await source.benchmark("start", {})
            raise AssertionError("a second run must be refused while one runs")
        except ControlError as exc:
            assert exc.status == 409 and "already running" in str(exc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (source.snapshot().benchmark or {}).get("state") != "completed":
            await asyncio.sleep(0.2)
        bench = source.snapshot().benchmark
        assert bench is not None and bench["state"] == "completed" and bench["id"] == started["id"], bench
        report = json.loads((Path(bench["run_dir"]) / "report.json").read_text(encoding="utf-8"))
        validate_report(report)
        assert set(report) == REPORT_KEYS and report["run"]["trigger"] == "api"
        assert report["run"]["workers"] == 4 and sum(report["totals"]["per_worker"]) == report["totals"]["sent"]
    finally:
        await source.aclose()


async def test_attached_dashboard_shows_and_acts_on_a_real_serve(served: tuple[subprocess.Popen[str], str, str]) -> None:
    from piyasa_tui.app import PiyasaApp
    from piyasa_tui.widgets.feed import FeedLog

    _proc, url, token = served
    source = RemoteSource(url, Secret(token))
    await source.start()
    try:
        app = PiyasaApp(source, cursor_blink=False)
        async with app.run_test(size=(120, 40)) as pilot:
            feed = app.query_one(FeedLog)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not feed.items:
                await pilot.pause(0.2)
            assert feed.items, "the attached dashboard shows the served feed"
            await pilot.press("space")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and source.snapshot().running:
                await pilot.pause(0.1)
            assert source.snapshot().running is False  # the key acted through the control API
            await pilot.press("space")
            await pilot.press("q")
    finally:
        await source.aclose()
