"""The benchmark, repeated: N 10-minute runs at ×60 of a profile (default: seed), each started as the TUI's
key starts one (its own chats, the workers restarted on its clock), on one supervisor with 4 workers
(offline provider, console transport, SQLite in a temporary data dir; Redis when ``--redis URL`` is given).
Prints every run's figures and, for the runs that failed, which criteria failed and why.

    .venv/bin/python bench/bench_repeat.py [--runs 20] [--time-scale 60] [--profile seed] [--redis URL]
        [--duration 10m] [--start-at 2026-11-25T10:00,2026-11-25T19:30,...] [--human-every 5m]

Each run also prints its conversation figures (harmony errors, false time-of-day phrases, mentions,
answered questions, people's questions when the profile has them); ``--start-at`` takes a comma list
of clock starts, used in turn, so the runs cover several hours and days.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def l2_text(rate: float | None) -> str:
    return "not configured" if rate is None else f"{rate * 100:.1f} %"


async def run(runs: int, scale: float, redis: str | None, profile: str, starts: list[str],
              duration: str | None = None, human_every: str | None = None) -> int:
    import multiprocess.resource_tracker

    from piyasa_core.bench.options import resolve_options
    from piyasa_core.bench.runner import BenchmarkRun
    from piyasa_core.config import load_config
    from piyasa_core.store.bootstrap import initialise
    from piyasa_core.workers.supervisor import Supervisor

    folder = Path(tempfile.mkdtemp(prefix="piyasa-bench-"))
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    os.chdir(folder)
    if redis:
        os.environ["REDIS_URL"] = redis
        os.environ["PIYASA_CACHE__KEY_PREFIX"] = f"rep{os.getpid()}"
    multiprocess.resource_tracker.ensure_running()
    config = load_config()
    initialise(config)
    supervisor = Supervisor(config, time_scale=scale)
    await supervisor.start()
    rows = []
    try:
        for i in range(runs):
            given = {"time_scale": scale, "formats": "json", "profile": profile}
            if starts:
                given["start_at"] = starts[i % len(starts)]
            if duration:
                given["duration"] = duration
            if human_every:
                given["human_every"] = human_every
            opts = resolve_options(config, given, trigger="bench")
            result = await BenchmarkRun(supervisor, opts).run()
            report = result.report
            c = {x["id"]: x for x in report["criteria"]}
            failed = [x for x in report["criteria"] if x["required"] and x["status"] == "fail"]
            rows.append({"passed": result.passed, "rate": report["totals"]["throughput_per_min"],
                         "pace": c["bot_pace"]["value"], "late": c["lateness_p95"]["value"],
                         "duplicates": c["duplicates"]["value"], "near": report["duplicates"]["near"],
                         "l2": c["l2_hit_rate"]["value"], "failed": failed,
                         "bots": {b["username"]: b["delivered"] for b in report["pace"]["bots"]},
                         "planned": {b["username"]: b["planned"] for b in report["pace"]["bots"]},
                         "quality": report["quality"], "people": c.get("human_questions", {})})
            r = rows[-1]
            print(f"run {i + 1:2d}: {'PASS' if r['passed'] else 'FAIL'}  {r['rate']:.2f} msg/min  worst pace "
                  f"{r['pace'] * 100:.1f} % beyond slack  lateness p95 {r['late']:.2f} s  duplicates {r['duplicates']} "
                  f"(near {r['near']})  L2 {l2_text(r['l2'])}"
                  f"  delivered {r['bots']}", flush=True)
            q = r["quality"]
            people = r["people"].get("detail", "") if r["people"].get("status") != "not_configured" else "none asked"
            print(f"        at {opts.start_at}: harmony errors {q['harmony_errors']}, time-phrase violations "
                  f"{q['time_phrase_violations']}, mentions {q['mention_rate']:.2f} (self {q['self_mentions']}), "
                  f"answered {q['answered_question_rate']:.2f} of {q['question_replies']} question replies; people: "
                  f"{people}", flush=True)
            for x in failed:
                print(f"        failed {x['id']}: {x['detail']}", flush=True)
            if failed:
                print(f"        engine outcomes {report['errors']['engine']}; run {report['run']['id']} kept in "
                      f"{folder}", flush=True)
    finally:
        await supervisor.stop()
        passed = sum(1 for r in rows if r["passed"])
        if passed == len(rows):
            shutil.rmtree(folder, ignore_errors=True)
    rates = [r["rate"] for r in rows]
    reasons: dict[str, int] = {}
    for r in rows:
        for x in r["failed"]:
            reasons[x["id"]] = reasons.get(x["id"], 0) + 1
    print(f"{passed} of {len(rows)} runs passed every required criterion (profile {profile}); throughput "
          f"min {min(rates):.2f}, median {statistics.median(rates):.2f}, max {max(rates):.2f} msg/min; worst pace "
          f"max {max(r['pace'] for r in rows) * 100:.1f} %; lateness p95 max {max(r['late'] for r in rows):.2f} s; "
          f"duplicates total {sum(r['duplicates'] for r in rows)}, near {sum(r['near'] for r in rows)}; "
          f"failures by criterion {reasons or 'none'}")
    quality = [r["quality"] for r in rows]
    replies = sum(q["question_replies"] for q in quality)
    answered = sum(q["answered_question_rate"] * q["question_replies"] for q in quality)
    n_bot = sum(q["bot_messages"] for q in quality) or 1
    pooled = {
        "bot_messages": n_bot,
        "mention_rate": round(sum(q["mention_rate"] * q["bot_messages"] for q in quality) / n_bot, 4),
        "near_duplicate_rate": round(sum(q["near_duplicates"] for q in quality) / n_bot, 4),
        "bot_to_bot_reply_share": round(sum(q["bot_to_bot_reply_rate"] * q["bot_messages"] for q in quality) / n_bot, 4),
        "unanswered_repeats": sum(q["unanswered_repeats"] for q in quality),
        "questions": sum(q["questions"] for q in quality),
        "addressed_first": f"{sum(q['addressed_answered_first'] for q in quality)} of "
                           f"{sum(q['addressed_human_questions'] for q in quality)}",
        "replies_per_human_question": round(sum(q["replies_per_human_question"] * q["human_questions"] for q in quality)
                                            / max(1, sum(q["human_questions"] for q in quality)), 3),
    }
    print("pooled over every run's bot messages: " + json.dumps(pooled, ensure_ascii=False))
    print(f"conversation over {len(rows)} runs: harmony errors {sum(q['harmony_errors'] for q in quality)}, "
          f"time-phrase violations {sum(q['time_phrase_violations'] for q in quality)}, self-mentions "
          f"{sum(q['self_mentions'] for q in quality)}, mention rate max {max(q['mention_rate'] for q in quality):.3f}, "
          f"answered {answered / replies if replies else 0:.3f} of {replies} question replies; people's questions "
          f"{sum(q['human_questions'] for q in quality)}, answered {sum(q['human_questions_answered'] for q in quality)}, "
          f"most bots on one in 10 min {max(q['max_bots_per_human_question_10min'] for q in quality)}")
    print("RESULT " + json.dumps({
        "measure": "P2", "runs": len(rows), "passed": passed, "time_scale": scale, "redis": bool(redis),
        "profile": profile, "throughput_min": round(min(rates), 3), "throughput_median": round(statistics.median(rates), 3),
        "throughput_max": round(max(rates), 3), "pace_excess_max": round(max(r["pace"] for r in rows), 4),
        "lateness_p95_max": round(max(r["late"] for r in rows), 3), "duplicates": sum(r["duplicates"] for r in rows),
        "near_duplicates": sum(r["near"] for r in rows), "failures": reasons,
        "harmony_errors": sum(q["harmony_errors"] for q in quality),
        "time_phrase_violations": sum(q["time_phrase_violations"] for q in quality)}))
    return 0 if passed == len(rows) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--redis", default=None, help="Redis URL for the L2 cache (default: none)")
    parser.add_argument("--profile", default="seed", help="benchmark profile (seed, everyday or humans)")
    parser.add_argument("--start-at", default="", help="comma-separated clock starts, used in turn (default: "
                                                       "[benchmark] start_at)")
    parser.add_argument("--duration", default=None, help="simulated duration of each run (default: [benchmark] "
                                                         "duration, 10m)")
    parser.add_argument("--human-every", default=None, help="a person asks the group this often (simulated, e.g. "
                                                            "5m; default: the profile's)")
    args = parser.parse_args()
    starts = [s.strip() for s in args.start_at.split(",") if s.strip()]
    return asyncio.run(run(args.runs, args.time_scale, args.redis, args.profile, starts, args.duration,
                           args.human_every))


if __name__ == "__main__":
    sys.exit(main())
