"""Who talks when, and the operator's bot switch: hours on the simulated clock, the roster the
supervisor folds into the snapshot, `init` keeping an operator's switch, an engine stopping and
restarting a bot without a restart, and the switch through the real supervisor's workers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from piyasa_core.config import load_config
from piyasa_core.engine import repo
from piyasa_core.engine.pacing import Window
from piyasa_core.store.db import make_engine, session_factory, session_scope
from piyasa_core.store.migrate import upgrade
from piyasa_core.store.models import Bot
from piyasa_core.store.seed import sync_from_config
from piyasa_core.workers.roster import Roster, hours_state, who_talks
from tests.engine_support import SIM_START, engines, run_until, sent, setup_store
from tests.test_serve import served  # noqa: F401 - fixture (a real `--serve` on a free port)

TZ = ZoneInfo("Europe/Istanbul")
AYSE, ALI = 2, 3  # bot ids in config.toml's order (Can, 5, and Fatma, 6, are disabled there)


def at(hhmm: str, day: int = 25) -> float:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


def test_hours_state_finds_the_next_change_also_across_midnight() -> None:
    mehmet = [Window.parse(w) for w in ("09:00-12:00", "14:00-17:00", "20:00-22:00")]
    assert hours_state(mehmet, at("10:05"), TZ) == (True, at("12:00"))
    assert hours_state(mehmet, at("12:30"), TZ) == (False, at("14:00"))
    assert hours_state(mehmet, at("23:30"), TZ) == (False, at("09:00", 26))
    night = [Window.parse("22:00-02:00")]
    assert hours_state(night, at("23:00"), TZ) == (True, at("02:00", 26))
    assert hours_state(night, at("01:00"), TZ) == (True, at("02:00"))
    assert hours_state([Window.parse("00:00-00:00")], at("03:00"), TZ) == (True, None)
    assert hours_state([], at("03:00"), TZ) == (True, None)


def test_the_roster_says_who_talks_now_and_who_comes_next(workdir: Path) -> None:
    config, store = setup_store()
    try:
        roster = Roster("Europe/Istanbul", 4)
        with session_scope(store.sessions) as session:
            roster.load(session)
        morning = roster.views(at("10:05"), {}, (10, 20))
        assert [b.state for b in morning] == ["active"] * 4 + ["disabled"] * 2
        assert [b.disabled_by for b in morning] == [""] * 4 + ["config"] * 2
        ayse = morning[AYSE - 1]
        assert (ayse.name, ayse.worker, ayse.next_change, ayse.hourly_min, ayse.hourly_max) == \
            ("Ayşe Scalper", 2, at("18:00"), 10, 20)
        assert ayse.active_hours == ("09:00-18:00",) and any("BIST" in s or ":" in s for s in ayse.stances)
        assert who_talks(morning).active == ("Mehmet", "Ayşe", "Ali", "Zeynep")
        evening = who_talks(roster.views(at("18:30"), {}, (10, 20)))
        assert evening.active == ("Zeynep",) and (evening.next_name, evening.next_at) == ("Mehmet", at("20:00"))
        night = who_talks(roster.views(at("23:30"), {}, (10, 20)))
        assert night.active == () and (night.next_name, night.next_at) == ("Zeynep", at("08:00", 26))
        roster.set_operator_disabled(4, True)  # Zeynep off: the next one is someone else
        night = who_talks(roster.views(at("23:30"), {}, (10, 20)))
        assert (night.next_name, night.next_at, night.enabled) == ("Mehmet", at("09:00", 26), 3)
        assert roster.views(at("23:30"), {}, (10, 20))[3].disabled_by == "operator"
        assert roster.find("@AYSE_SCALP").bot_id == AYSE and roster.find(AYSE).username == "ayse_scalp"
        try:
            roster.find(99)
            raise AssertionError("an unknown bot must be refused")
        except ValueError as exc:
            assert str(exc).startswith("unknown bot 99; known: 1 (mehmet_trader), 2 (ayse_scalp)")
    finally:
        store.dispose()


def test_init_keeps_an_operators_switch_and_says_so(db_url: str, workdir: Path) -> None:
    """`bots.enabled` follows config.toml; the operator's `operator_disabled` survives every sync."""
    settings = load_config().settings
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with session_scope(sessions) as session:
            sync_from_config(session, settings)
        with session_scope(sessions) as session:
            repo.set_operator_disabled(session, AYSE, True)
        with session_scope(sessions) as session:
            report = sync_from_config(session, settings)
            assert report.held == ["bot ayse_scalp"] and not report.changed
            row = session.scalar(select(Bot).where(Bot.id == AYSE))
            assert row is not None and row.enabled and row.operator_disabled
            assert AYSE not in [b.id for b in repo.load_profiles(session)]
            assert AYSE in [b.id for b in repo.load_profiles(session, enabled_only=False)]
    finally:
        engine.dispose()


async def test_an_engine_stops_and_restarts_a_bot_without_a_restart(workdir: Path) -> None:
    config, store = setup_store()
    events: list = []
    try:
        engine = engines(config, store, 600, events, workers=1)[0]
        await run_until([engine], lambda: any(m.bot_id == AYSE for m in sent(events)), timeout=60)
        assert AYSE in engine.metrics().extra["bots"]
        with session_scope(store.sessions) as session:
            repo.set_operator_disabled(session, AYSE, True)
        await engine.reload_bots()
        assert AYSE not in engine.metrics().extra["bots"] and AYSE not in engine.metrics().bots
        assert all(AYSE not in (b.id for b in members) for members in engine.members.values())
        states = engine.metrics().extra["bots"]
        assert all(s["due"] is None or s["due"] > SIM_START for s in states.values())
        before = len([m for m in sent(events) if m.bot_id == AYSE])
        others = len(sent(events))
        await run_until([engine], lambda: len(sent(events)) >= others + 12, timeout=60)
        assert len([m for m in sent(events) if m.bot_id == AYSE]) <= before + 1  # at most the one in flight
        with session_scope(store.sessions) as session:
            repo.set_operator_disabled(session, AYSE, False)
        await engine.reload_bots()
        again = len([m for m in sent(events) if m.bot_id == AYSE])
        await run_until([engine], lambda: len([m for m in sent(events) if m.bot_id == AYSE]) > again, timeout=60)
        # a bot off at start is loaded when the operator turns it on
        with session_scope(store.sessions) as session:
            repo.set_operator_disabled(session, ALI, True)
        fresh = engines(config, store, 600, events, workers=1)[0]
        await fresh.start()
        assert ALI not in fresh.bots
        with session_scope(store.sessions) as session:
            repo.set_operator_disabled(session, ALI, False)
        await fresh.reload_bots()
        assert ALI in fresh.bots and ALI in fresh.metrics().extra["bots"]
        await fresh.cache.aclose()
    finally:
        store.dispose()


async def test_the_switch_reaches_every_worker_and_survives_a_worker_restart(workdir: Path) -> None:
    import pytest

    from tests.supervisor_support import all_running, running_supervisor, until

    async with running_supervisor() as sup:
        await until(lambda: all_running(sup) and all(s.metrics is not None for s in sup.slots.values()), 60)
        assert AYSE in sup.slots[2].metrics.extra["bots"]  # type: ignore[union-attr]
        result = await sup.set_bot_enabled("ayse_scalp", False)
        assert (result["bot"], result["worker"], sorted(result["workers"])) == (AYSE, 2, [0, 1, 2, 3])
        waited = await until(lambda: all(s.applied.get("bot", ("",))[0] == "2:False" for s in sup.slots.values()), 20)
        print(f"every worker applied the switch within {waited:.2f} s")
        bot = sup.snapshot().bots[AYSE - 1]
        assert (bot.state, bot.disabled_by, bot.next_change) == ("disabled", "operator", None)
        await until(lambda: AYSE not in sup.slots[2].metrics.extra["bots"], 10)  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="^bot can_chartist is disabled in config.toml"):
            await sup.set_bot_enabled(5, True)
        with pytest.raises(ValueError, match="^unknown bot 'nobody'; known: 1 "):
            await sup.set_bot_enabled("nobody", False)
        await sup.restart_workers(2)  # a restarted worker reads the switch from the database
        await until(lambda: all_running(sup) and sup.slots[2].generation == 2, 60)
        assert AYSE not in sup.slots[2].bots
        await sup.set_bot_enabled(AYSE, True)
        await until(lambda: AYSE in (sup.slots[2].metrics.extra["bots"] if sup.slots[2].metrics else {}), 20)
        assert sup.snapshot().bots[AYSE - 1].state == "active"


async def test_attached_the_switch_and_the_runs_go_through_the_control_api(served, workdir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 - the fixture
    import pytest

    from piyasa_core.control import ControlError
    from piyasa_core.secrets import Secret
    from piyasa_tui.remote import RemoteSource
    from tests.supervisor_support import until

    _proc, url, token = served
    source = RemoteSource(url, Secret(token))
    await source.start()
    try:
        await until(lambda: len(source.snapshot().bots) == 6 and source.snapshot().bots[3].state == "active", 30)
        result = await source.set_bot_enabled("zeynep_newbie", False)
        assert (result["bot"], result["worker"], result["enabled"]) == (4, 0, False)
        await until(lambda: source.snapshot().bots[3].state == "disabled", 10)  # over /events
        assert source.snapshot().bots[3].disabled_by == "operator"
        for bot, enabled, error in ((True, False, 'field "bot" must be a bot id or a username'),
                                    ("zeynep_newbie", "yes", 'field "enabled" must be true or false'),
                                    ("nobody", False, "unknown bot 'nobody'; known: 1 (mehmet_trader)"),
                                    (6, True, "bot fatma_temettu is disabled in config.toml")):
            with pytest.raises(ControlError) as refused:
                await source.client._request("POST", "/bots", {"bot": bot, "enabled": enabled})
            assert refused.value.status == 400 and error in str(refused.value), str(refused.value)
        history = await source.benchmark("history", {})
        assert history["runs"] == [] and history["out_dir"] == str(workdir / "data" / "bench")
        await source.set_bot_enabled(4, True)
        await until(lambda: source.snapshot().bots[3].state == "active", 10)
    finally:
        await source.aclose()


def test_provider_errors_keep_the_newest_class_and_its_time() -> None:
    from piyasa_core.config import load_config
    from piyasa_core.engine.events import EngineMetrics
    from piyasa_core.llm.budget import Limits
    from piyasa_core.llm.router import ProviderStatus
    from piyasa_core.llm.types import RateLimitHeaders
    from piyasa_core.workers.provider_log import ProviderErrors
    from piyasa_core.workers.slots import merge_providers

    def metrics(worker: int, at: float, errors: dict[str, int]) -> EngineMetrics:
        status = ProviderStatus(name="groq", model="llama", label="groq (llama)", is_llm=True, active=True,
                                in_chain=True, state="down", reason="500", until=None, breaker="open",
                                headers=RateLimitHeaders(), requests=3, errors=errors, limits=Limits(),
                                requests_today=3, tokens_today=100, projected_exhaustion=None)
        return EngineMetrics(worker, at, at, (), {}, {}, {}, (status,), "groq", "")

    log = ProviderErrors()
    log.note(metrics(0, SIM_START, {"server": 1}))
    log.note(metrics(1, SIM_START + 5, {"timeout": 2}))
    log.note(metrics(0, SIM_START + 9, {"server": 1}))  # nothing new from worker 0
    assert log.last["groq"] == ("timeout", SIM_START + 5)
    log.note(metrics(1, SIM_START + 20, {"server": 1}))  # worker 1 restarted: counts start again
    assert log.last["groq"] == ("server", SIM_START + 20)
    config = load_config()
    views = log.decorate(merge_providers([metrics(0, SIM_START, {"server": 1})], "groq", config), config)
    groq = next(v for v in views if v.name == "groq")
    assert (groq.last_error, groq.last_error_at) == ("server", SIM_START + 20)
    assert groq.budgets == {k: getattr(config.settings.llm.providers["groq"], k) for k in ("rpm", "tpm", "rpd", "tpd")}
