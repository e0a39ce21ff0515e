"""Four real worker processes: crashes, backoff, restarts re-reading .env, switching, metrics."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Message
from tests.fakes.llm_server import FakeLLMServer
from tests.supervisor_support import all_running, running_supervisor, until

pytestmark = pytest.mark.e2e  # also run under a night clock and on a Sunday (.ci/run)


def sent_counts(supervisor) -> dict[int, int]:  # type: ignore[no-untyped-def]
    return {w.worker_id: w.sent_total for w in supervisor.snapshot().workers}


async def test_every_worker_sends_and_a_killed_worker_is_back_within_two_seconds(workdir: Path) -> None:
    async with running_supervisor() as sup:
        await until(lambda: all(n > 0 for n in sent_counts(sup).values()), 20)
        victim = sup.snapshot().workers[2]
        before = victim.sent_total
        os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
        killed_at = time.monotonic()
        await until(lambda: sup.snapshot().workers[2].state == "backoff", 30)
        back = await until(lambda: sup.snapshot().workers[2].state == "running"
                           and sup.snapshot().workers[2].pid != victim.pid, 30)
        await until(lambda: sup.snapshot().workers[2].sent_total > before, 30)
        producing = time.monotonic() - killed_at
        view = sup.snapshot().workers[2]
        assert view.restarts == 1 and "code -9" in view.last_error
        # the 2-second goal is measured by bench/supervisor.py (medians); a test only bounds it loosely
        print(f"\nkill -9 → running in {back:.2f} s, producing again after {producing:.2f} s")
        assert producing <= 30.0
        await asyncio.sleep(1.0)
        feed_ids = [item.message_id for item in sup.snapshot().feed]
    with _session() as session:
        rows = session.scalars(select(Message)).all()
    statuses = Counter(r.status for r in rows)
    assert statuses["pending"] == 0  # an interrupted row is resolved as failed on restart, never re-sent
    sent_rows = [r for r in rows if r.status == "sent"]
    assert len({(r.chat_id, r.text) for r in sent_rows}) == len(sent_rows)  # no duplicate
    assert set(feed_ids) <= {r.id for r in sent_rows}  # every reported message is stored as sent
    assert len(feed_ids) == len(set(feed_ids))


async def test_a_question_to_a_bot_whose_worker_is_down_is_answered_once_it_is_back(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person's reply job that arrives between a worker's crash and its restart is kept and handed to
    the new process (it used to be dropped: the question went unanswered)."""
    monkeypatch.setenv("PIYASA_SUPERVISOR__BACKOFF_INITIAL", "30")  # down for half a minute unless restarted
    async with running_supervisor(workers=2) as sup:
        await until(lambda: all_running(sup), 30)
        sup.slots[0].process.kill()  # ayse_scalp is bot 2: worker 0 of 2
        await until(lambda: sup.slots[0].state == "backoff", 30)
        asked = await sup.post_human("piyasa-local", "@ayse_scalp bugün BIST'te hangi hisseye bakıyorsun?", "Okur")
        assert asked["answering"] == [2]
        assert any("reply job for bot 2 held: worker 0 is backoff" in text for _, _, text in sup.snapshot().notices)
        await sup.restart_workers(0)  # the operator's restart ends the backoff at once

        def answered() -> bool:
            with _session() as session:
                return session.scalar(select(Message.id).where(
                    Message.reply_to_id == asked["message_id"], Message.bot_id == 2, Message.status == "sent")) is not None

        await until(answered, 60, step=0.2)
        # answered as the person's job (a turn of hers could have picked the message up on its own)
        await until(lambda: sup.slots[0].metrics is not None and sup.slots[0].metrics.counts.get("jobs", 0) >= 1, 30)


def _session():  # type: ignore[no-untyped-def]
    from piyasa_core.config import load_config
    from piyasa_core.store import open_store

    return session_scope(open_store(load_config()).sessions)


_RESTART_NOTICE = re.compile(r"^worker 1 .*; restart (\d+) in (\d+\.\d) s$")


def backoff_delay(sup, restart: int) -> float:  # type: ignore[no-untyped-def]
    """The delay the supervisor chose for worker 1's ``restart``-th restart, read from its notice
    (to 0.1 s): what it decided, not what a poll of a loaded host happened to see of it."""
    found = [float(m.group(2)) for _, _, text in sup.snapshot().notices
             if (m := _RESTART_NOTICE.match(text)) and int(m.group(1)) == restart]
    assert len(found) == 1, [text for _, _, text in sup.snapshot().notices]
    return found[0]


async def test_twenty_kills_show_backoff_then_it_resets(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIYASA_SUPERVISOR__BACKOFF_MAX", "0.6")
    monkeypatch.setenv("PIYASA_SUPERVISOR__BACKOFF_RESET_AFTER", "2")
    async with running_supervisor() as sup:
        await until(lambda: all_running(sup), 20)
        delays = []
        for n in range(1, 21):
            await until(lambda: sup.slots[1].process is not None and sup.slots[1].process.exitcode is None
                        and sup.slots[1].state in ("starting", "running"), 30, step=0.01)
            sup.slots[1].process.kill()
            await until(lambda: sup.slots[1].restarts == n, 30, step=0.01)
            delays.append(backoff_delay(sup, n))
        snap = sup.snapshot()
        assert snap.workers[1].restarts == 20
        # 0.25 s × 2^level, capped at 0.6 s, each ±20 %: 0.2–0.3 s first, 0.48–0.72 s from the third on
        print(f"\nbackoff delays chosen: {delays}")
        assert delays[0] <= 0.3 and max(delays) <= 0.7 and delays[5] > delays[0] and min(delays[2:]) >= 0.5
        assert all(w.state == "running" for w in snap.workers if w.worker_id != 1)  # the others are untouched
        await until(lambda: sup.snapshot().workers[1].state == "running", 30)
        # stable for backoff_reset_after (2 s; the default 60 s would not reset it within the wait)
        await until(lambda: sup.slots[1].backoff_level == 0, 30)
        sup.slots[1].process.kill()
        await until(lambda: sup.slots[1].restarts == 21, 30, step=0.01)
        assert backoff_delay(sup, 21) <= 0.3  # back to the first step


async def test_restart_all_rereads_env_and_reports_masked_changes(workdir: Path) -> None:
    with FakeLLMServer() as fake:
        async with running_supervisor() as sup:
            await until(lambda: all_running(sup), 20)
            old_pids = {w.pid for w in sup.snapshot().workers}
            (workdir / ".env").write_text(
                f"LLM_PROVIDER=groq\nGROQ_API_KEY=gsk_restart_secret_123456\nGROQ_BASE_URL={fake.url}\n")
            result = await sup.restart_workers()
            assert result["ok"] and result["error"] is None
            changes = " | ".join(result["changes"])
            assert "LLM_PROVIDER: (unset) → groq" in changes and "llm.active: 'offline' → 'groq'" in changes
            assert "GROQ_API_KEY: (unset) → *** (sha256 " in changes and "gsk_restart" not in changes
            await until(lambda: all_running(sup) and not ({w.pid for w in sup.snapshot().workers} & old_pids), 15)
            await until(lambda: any(item.provider == "groq" for item in sup.snapshot().feed), 15)
            assert fake.count("groq", "generate") > 0
            notices = " ".join(text for _, _, text in sup.snapshot().notices)
            assert "gsk_restart" not in notices


async def test_restart_applies_the_time_scale_and_holds_what_it_cannot_apply(workdir: Path) -> None:
    """The preview and the restart report the same: the time scale applies (the snapshot and the workers'
    clock follow it), the worker count is held at 4 with its reason; nothing reported goes unapplied."""
    async with running_supervisor() as sup:
        await until(lambda: all_running(sup), 20)
        (workdir / ".env").write_text("PIYASA_ENGINE__TIME_SCALE=120\nPIYASA_SUPERVISOR__WORKERS=6\n")
        preview = await sup.preview_restart()
        assert preview["ok"] and any("engine.time_scale: 1.0 → 120.0" in c for c in preview["changes"])
        assert any("supervisor.workers: 4 → 6" in h and "not applied" in h for h in preview["held"])
        before = sup.sim_now()
        result = await sup.restart_workers()
        assert result["changes"] == preview["changes"] and result["held"] == preview["held"]
        assert sup.snapshot().time_scale == 120 and sup.total == 4 and len(sup.snapshot().workers) == 4
        assert sup.sim_now() >= before  # the simulated timeline goes on, faster
        await until(lambda: all_running(sup), 20)
        await until(lambda: all(m.at >= before for m in sup.snapshot().feed[-1:]), 15)
        assert any("not applied" in text for _, _, text in sup.snapshot().notices)


async def test_an_invalid_env_keeps_the_old_workers(workdir: Path) -> None:
    async with running_supervisor() as sup:
        await until(lambda: all_running(sup), 20)
        pids = [w.pid for w in sup.snapshot().workers]
        (workdir / ".env").write_text("PIYASA_SUPERVISOR__WORKERS=0\n")
        result = await sup.restart_workers()
        assert not result["ok"] and ".env:1: PIYASA_SUPERVISOR__WORKERS = '0'" in result["error"]
        await asyncio.sleep(0.5)
        assert [w.pid for w in sup.snapshot().workers] == pids and all_running(sup)
        assert any("restart refused" in text for _, _, text in sup.snapshot().notices)


async def test_provider_switch_reaches_every_worker(workdir: Path) -> None:
    """Every worker applies the switch; the one-second goal is a speed goal, measured and printed here
    (a loaded host may take longer; bench/ judges it)."""
    async with running_supervisor() as sup:
        await until(lambda: all_running(sup), 20)
        started = time.time()
        result = await sup.switch_provider("groq")
        assert sorted(result["workers"]) == [0, 1, 2, 3]
        took = await until(lambda: all(s.applied.get("provider", ("", 0))[0] == "groq" for s in sup.slots.values()), 30)
        latest = max(s.applied["provider"][1] for s in sup.slots.values()) - started
        print(f"\nprovider switch applied by all workers after {latest * 1000:.0f} ms (seen after {took * 1000:.0f} ms)")
        with pytest.raises(ValueError):
            await sup.switch_provider("nope")
        await sup.set_simulation(False)
        await until(lambda: all(s.applied.get("running", ("", 0))[0] == "False" for s in sup.slots.values()), 30)


async def test_a_hung_worker_is_detected_by_missed_heartbeats(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIYASA_SUPERVISOR__HEARTBEAT_TIMEOUT", "2")
    async with running_supervisor() as sup:
        await until(lambda: all_running(sup), 20)
        victim = sup.snapshot().workers[0].pid
        os.kill(victim, signal.SIGSTOP)  # alive but silent
        await until(lambda: sup.snapshot().workers[0].restarts == 1, 30)
        assert "no heartbeat" in sup.snapshot().workers[0].last_error
        await until(lambda: sup.snapshot().workers[0].state == "running" and sup.snapshot().workers[0].pid != victim, 30)
        assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE
