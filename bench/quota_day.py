"""One whole simulated day on free-tier quotas (issue 16): does the day's LLM budget last the day?

The real engine (one worker with the 4 default personas, pacing and the day's plan on, SQLite in a
temporary data dir) runs a weekday from 06:00 to the end of the bots' last active hour on a
simulated clock (``--time-scale``, default ×300: the day in about 3–4 real minutes per chain). It
talks through the real SDKs to the fake LLM server (``tests/fakes/llm_server.py``, in this process on
127.0.0.1), whose clock is the same simulated clock and which enforces the free tiers:

- Groq ``llama-3.3-70b-versatile``: 30 RPM, 1,000 RPD, 12,000 TPM, 100,000 TPD (billed with the Llama 3
  tokenizer on the chat request, as bench/tokens.py does; ``--tokenizer chars4`` without it);
- Gemini 2.5 Flash: 10 RPM, 250 RPD, 250,000 TPM (no daily token limit; counted as ceil(chars / 4)).

A limit the fake enforces answers the provider's own 429 (per minute or per day). The engine is
configured with the same quotas, as an operator would write them in config.toml. Every answer takes
an emulated 0.8 simulated seconds. A person asks the group a question every ``--human-every``
(default 20 simulated minutes) while any bot is active (piyasa_core/bench/humans.py).

Two chains: ``groq`` alone, and ``groq+gemini`` (gemini as the fallback). For each it prints the bot
messages per hour of the day (by provider), the last bot message against the end of the active
hours, tokens per sent message, 429s by kind, and the people's questions answered; then the goals:

- Groq alone: ≥ 250 bot messages in the day, spread over the active hours; the last bot message
  within 15 minutes of the end of the last active hour; 0 requests answered 429 for a daily quota;
  every question answered;
- Groq + Gemini: ≥ 450 bot messages.

    .venv/bin/python bench/quota_day.py [--chain groq|groq+gemini|both] [--time-scale 300] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from real_tokens import TokenizerMissing, prompt_counter  # noqa: E402
from real_tokens import load as load_tokenizer  # noqa: E402
from tokens import compose_reply  # noqa: E402

GROQ_FREE = {"rpm": 30, "tpm": 12_000, "rpd": 1_000, "tpd": 100_000}
GEMINI_FREE = {"rpm": 10, "tpm": 250_000, "rpd": 250}
CHAINS = {"groq": [], "groq+gemini": ["gemini"]}
GOALS = {"groq": 250, "groq+gemini": 450}
LAST_MESSAGE_WITHIN_S = 15 * 60
LATENCY_S = 0.8  # simulated seconds per answer
DAY = "2026-11-25"  # a Wednesday
ANSWERED_WITHIN_S = 30 * 60


def _texts(api: str, body: Any) -> tuple[str, str]:
    """(system, user) of an OpenAI/Groq or Gemini request body."""
    if not isinstance(body, dict):
        return "", ""
    if api == "gemini":
        def join(block: Any) -> str:
            return "".join(str(p.get("text", "")) for p in (block or {}).get("parts") or [] if isinstance(p, dict))
        return join(body.get("systemInstruction")), "".join(join(b) for b in body.get("contents") or [])
    parts = [(m.get("role"), m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict)]
    system = next((str(c) for r, c in parts if r == "system"), "")
    user = next((str(c) for r, c in parts if r == "user"), "")
    return system, user


def make_fake(clock: Any, scale: float, tokenizer: Any | None, seed: int) -> Any:
    from tests.fakes.llm_scenarios import estimate_prompt_tokens
    from tests.fakes.llm_server import FakeLLMServer

    groq_count = prompt_counter(tokenizer) if tokenizer else estimate_prompt_tokens

    class DayFake(FakeLLMServer):
        """The fake on the simulated clock, with realistic replies billed by their length."""

        def __init__(self) -> None:
            super().__init__(limits={"groq": GROQ_FREE, "gemini": GEMINI_FREE}, clock=clock,
                             latency_ms=LATENCY_S * 1000 / scale,
                             count_prompt_tokens=lambda api, body: groq_count(api, body) if api == "groq"
                             else estimate_prompt_tokens(api, body))
            self.billed: Counter[str] = Counter()

        def _generate(self, api: Any, model: str, version: str, body: Any, headers: Any, query: Any,
                      now: float) -> Any:
            system, user = _texts(api, body)
            text = compose_reply(system, user, random.Random(seed * 1_000_003 + self._n + 1), 0.02)
            self.reply = text
            self.completion_tokens = (tokenizer.completion(text) if tokenizer and api == "groq"
                                      else max(1, len(text) // 4))
            reply, delay, name = super()._generate(api, model, version, body, headers, query, now)
            if reply.status == 200:
                self.billed[api] += self.count_prompt_tokens(api, body) + self.completion_tokens
            return reply, delay, name

    return DayFake()


def _environment(folder: Path, fake_url: str, fallback: list[str]) -> dict[str, str]:
    env = {"LLM_PROVIDER": "groq", "PIYASA_LLM__FALLBACK": ",".join(fallback), "REDIS_URL": "",
           "PIYASA_DATA_DIR": str(folder / "data"), "PIYASA_WORKERS": "1",
           "GROQ_API_KEY": "gsk_bench_000000000000000000000", "GROQ_BASE_URL": fake_url,
           "GEMINI_API_KEY": "AIza" + "Bench" + "0" * 30,  # built here: no committed line looks like a key
           "GOOGLE_GEMINI_BASE_URL": fake_url,
           "PIYASA_LLM__PROVIDERS__GEMINI__MODEL": "gemini-2.5-flash"}
    for name, limits in (("GROQ", GROQ_FREE), ("GEMINI", GEMINI_FREE)):
        for key in ("rpm", "tpm", "rpd", "tpd"):
            env[f"PIYASA_LLM__PROVIDERS__{name}__{key.upper()}"] = str(limits.get(key, 0))
    return env


async def run_day(chain: str, scale: float, tokenizer: Any | None, every: float, seed: int) -> dict[str, Any]:
    from sqlalchemy import select

    from piyasa_core.bench.humans import HumanAsker, replies_to
    from piyasa_core.config import load_config
    from piyasa_core.engine.clock import SimClock
    from piyasa_core.engine.factory import build_engine
    from piyasa_core.store import open_store
    from piyasa_core.store.bootstrap import initialise
    from piyasa_core.store.db import session_scope
    from piyasa_core.store.models import Message
    from piyasa_core.timeutil import as_utc

    folder = Path(tempfile.mkdtemp(prefix="piyasa-quota-day-"))
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    cwd = os.getcwd()
    os.chdir(folder)
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("PIYASA_", "GROQ_", "GEMINI_", "OPENAI_", "GOOGLE_"))
                or k in ("DATABASE_URL", "REDIS_URL", "LLM_PROVIDER")]:
        del os.environ[key]  # the run uses config.toml's defaults and the free tiers, whatever this shell set
    zone = ZoneInfo("Europe/Istanbul")
    start = datetime.fromisoformat(f"{DAY}T06:00").replace(tzinfo=zone).timestamp()
    clock = SimClock(scale, start)
    fake = make_fake(clock.now, scale, tokenizer, seed)
    fake.start()
    os.environ.update(_environment(folder, fake.url, CHAINS[chain]))
    real_started = time.perf_counter()
    try:
        config = load_config()
        initialise(config)
        store = open_store(config)
        engine = build_engine(config, store, worker_id=0, total=1, pacing=True, clock=clock, seed=seed)
        # the fake's limits run on the simulated clock: so do the engine's budgets and the router's waits
        engine.router.clock = clock.now
        engine.router.real_seconds = clock.real_seconds
        engine.router.budget.clock = clock.now  # type: ignore[union-attr]
        await engine.start()
        assert engine.quota is not None
        day_end = engine.quota.day_end(start)
        first = next(t for t in range(int(start), int(day_end), 60)
                     if any(p.is_active(t) for p in engine.quota.pacers))
        end = day_end + 30 * 60
        asker = HumanAsker(store.engine, list(engine.bots.values()), {c.id: c.key for c in engine.chats.values()},
                           config.settings.engine, every, float(first), day_end, engine.submit_reply_job)
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop))
        plans: list[dict[str, Any]] = []
        next_plan = start
        while clock.now() < end:
            now = clock.now()
            if asker.due(now):
                asker.ask(now)
            if now >= next_plan and engine.quota.plan is not None:
                plans.append(engine.quota.plan.to_dict())
                next_plan += 3600
            await asyncio.sleep(clock.real_seconds(15.0))
        stop.set()
        await task
        for client in (engine.router, engine.cache, engine.transport):  # before the loop closes
            await client.aclose()
        with session_scope(store.sessions) as session:
            rows = session.execute(select(Message.sent_at, Message.provider, Message.tokens_in, Message.tokens_out)
                                   .where(Message.bot_id.is_not(None), Message.status == "sent")).all()
        every_sent = [(as_utc(at).timestamp(), provider, (tin or 0) + (tout or 0)) for at, provider, tin, tout in rows]
        sent = [row for row in every_sent if row[0] <= end]  # the drain after the stop is not the day
        replies = replies_to(store.engine, [q.message_id for q in asker.asked if q.message_id], end)
        answered = sum(1 for q in asker.asked if q.message_id and any(
            at - q.at <= ANSWERED_WITHIN_S for _, at, _ in replies.get(q.message_id, [])))
        stats = fake.stats()
        errors = {name: dict(h.errors) for name, h in engine.router.health.items() if h.errors}
        counts = dict(engine.counts)
        store.close() if hasattr(store, "close") else None
    finally:
        fake.stop()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
    hours: dict[int, Counter[str]] = {}
    for at, provider, _ in sent:
        hours.setdefault(datetime.fromtimestamp(at, zone).hour, Counter())[provider] += 1
    asked_hours = Counter(datetime.fromtimestamp(q.at, zone).hour for q in asker.asked)
    billed = sum(fake.billed.values())
    last = max((at for at, _, _ in sent), default=None)
    return {
        "chain": chain, "time_scale": scale, "real_seconds": round(time.perf_counter() - real_started, 1),
        "day_end": day_end, "first_active": first, "last_message": last,
        "bot_messages": len(sent), "sent_after_the_day": len(every_sent) - len(sent), "by_provider": dict(Counter(p for _, p, _ in sent)),
        "hours": {h: dict(c) for h, c in sorted(hours.items())}, "asked_per_hour": dict(asked_hours),
        "tokens_billed": billed, "tokens_billed_by_api": dict(fake.billed),
        "tokens_per_message": round(billed / len(sent), 1) if sent else None,
        "llm_messages": sum(1 for _, p, _ in sent if p in ("groq", "gemini")),
        "rejected": {api: {k: v for k, v in c.items() if k.startswith("rejected") and v}
                     for api, c in stats["by_api"].items()},
        "router_errors": errors, "people_asked": len(asker.asked), "people_answered": answered,
        "plans": plans, "engine_counts": {k: v for k, v in counts.items() if v},
    }


def _hhmm(epoch: float | None) -> str:
    return "—" if epoch is None else datetime.fromtimestamp(epoch, ZoneInfo("Europe/Istanbul")).strftime("%H:%M")


def report(result: dict[str, Any]) -> tuple[list[str], bool]:
    """Printable lines and whether the chain met its goals."""
    chain = result["chain"]
    lines = [f"── chain {chain} (×{result['time_scale']:g}, {result['real_seconds']} s real) ──",
             f"{'hour':>5} {'groq':>5} {'gemini':>6} {'local':>5} {'offline':>7} {'total':>5} {'people':>6}"]
    for hour in range(6, 24):
        c = result["hours"].get(hour, {})
        total = sum(c.values())
        lines.append(f"{hour:02d}:00 {c.get('groq', 0):>5} {c.get('gemini', 0):>6} {c.get('local', 0):>5} "
                     f"{c.get('offline', 0):>7} {total:>5} {result['asked_per_hour'].get(hour, 0):>6}")
    n = result["bot_messages"]
    rejected = {api: r for api, r in result["rejected"].items() if r}
    daily = sum(r.get("rejected_daily", 0) for r in rejected.values())
    late = (result["day_end"] - result["last_message"]) if result["last_message"] else None
    lines += [
        f"bot messages: {n} {result['by_provider']} (goal ≥ {GOALS[chain]}); sent in the drain after "
        f"{_hhmm(result['day_end'] + 1800)}: {result['sent_after_the_day']}",
        f"active from {_hhmm(result['first_active'])}; last active minute ends {_hhmm(result['day_end'])}; "
        f"last bot message {_hhmm(result['last_message'])}"
        + (f" ({late / 60:.0f} min before the end)" if late is not None else ""),
        f"tokens billed: {result['tokens_billed']} {result['tokens_billed_by_api']}; per sent message "
        f"{result['tokens_per_message']} (LLM messages {result['llm_messages']})",
        f"429s by kind: {rejected or 'none'}; router errors {result['router_errors'] or 'none'}",
        f"people: {result['people_asked']} asked, {result['people_answered']} answered within 30 min",
        f"engine: {result['engine_counts']}",
    ]
    active_hours = [h for h in range(6, 24) if result["hours"].get(h)]
    checks = [(n >= GOALS[chain], f"{n} bot messages (goal ≥ {GOALS[chain]})")]
    if chain == "groq":
        checks += [
            (late is not None and late <= LAST_MESSAGE_WITHIN_S,
             f"last bot message {late / 60 if late is not None else float('nan'):.0f} min before the end (goal ≤ 15)"),
            (daily == 0, f"{daily} requests answered 429 for a daily quota (goal 0)"),
            (result["people_answered"] == result["people_asked"],
             f"{result['people_answered']} of {result['people_asked']} questions answered (goal all)"),
            (len(active_hours) >= 12, f"bot messages in {len(active_hours)} hours of the day"),
        ]
    for ok, text in checks:
        lines.append(f"{'PASS' if ok else 'FAIL'}: {text}")
    return lines, all(ok for ok, _ in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", choices=[*CHAINS, "both"], default="both")
    parser.add_argument("--time-scale", type=float, default=300.0, help="simulated seconds per real second")
    parser.add_argument("--human-every", type=float, default=20.0, metavar="MINUTES")
    parser.add_argument("--tokenizer", choices=["llama3", "chars4"], default="llama3")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="also print each chain's figures as one JSON line")
    args = parser.parse_args()
    if args.time_scale <= 0 or args.human_every <= 0:
        print("bench/quota_day.py: --time-scale and --human-every must be positive", file=sys.stderr)
        return 2
    try:
        tokenizer = None if args.tokenizer == "chars4" else load_tokenizer(args.tokenizer)
    except TokenizerMissing as exc:
        print(f"bench/quota_day.py: --tokenizer {args.tokenizer}: {exc}", file=sys.stderr)
        return 2
    passed = True
    for chain in (CHAINS if args.chain == "both" else [args.chain]):
        result = asyncio.run(run_day(chain, args.time_scale, tokenizer, args.human_every * 60, args.seed))
        lines, ok = report(result)
        print("\n".join(lines), flush=True)
        if args.json:
            print("RESULT " + json.dumps({k: v for k, v in result.items() if k != "plans"}, ensure_ascii=False))
        passed &= ok
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
