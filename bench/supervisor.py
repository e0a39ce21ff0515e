"""Recovery times of the supervisor with 4 real workers (offline provider, console transport).

- crash: `kill -9` of one worker → that worker producing messages again;
- restart-all: `.env` edited + restart of all workers (re-reading it) → every worker producing again.
Each crash is a worker's first after a stable run (backoff_reset_after = 2 s here; repeated crashes
back off exponentially on purpose). Medians (and min/max) over N trials, in real seconds, at a simulated 10:05 with time scale 60
(bots' typing and pacing run 60× faster, so "producing" is dominated by process start-up).

    .venv/bin/python bench/supervisor.py [--trials 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIM_START = datetime(2026, 11, 25, 10, 5, tzinfo=ZoneInfo("Europe/Istanbul")).timestamp()


async def until(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.01)
    raise TimeoutError("not reached")


async def run(trials: int) -> None:
    from piyasa_core.config import load_config
    from piyasa_core.store.bootstrap import initialise
    from piyasa_core.workers.supervisor import Supervisor

    config = load_config()
    initialise(config)
    sup = Supervisor(config, time_scale=60, sim_start=SIM_START)
    await sup.start()
    sent = lambda: [w.sent_total for w in sup.snapshot().workers]
    try:
        await until(lambda: all(n > 0 for n in sent()), 30)
        crash: list[float] = []
        for trial in range(trials):
            worker = trial % 4
            await until(lambda: all(w.state == "running" for w in sup.snapshot().workers), 30)
            await asyncio.sleep(2.5)  # past backoff_reset_after: the backoff is back to its first step
            before = sent()[worker]
            os.kill(sup.snapshot().workers[worker].pid, signal.SIGKILL)  # type: ignore[arg-type]
            crash.append(await until(lambda: sent()[worker] > before, 30))
            await asyncio.sleep(0.3)
        restart: list[float] = []
        for trial in range(trials):
            await until(lambda: all(w.state == "running" for w in sup.snapshot().workers), 30)
            Path(".env").write_text(f"PIYASA_ENGINE__MAX_MESSAGE_CHARS={300 + trial}\n")
            before = sent()
            started = time.monotonic()
            result = await sup.restart_workers()
            assert result["ok"], result
            await until(lambda: all(now > then for now, then in zip(sent(), before)), 30)
            restart.append(time.monotonic() - started)
    finally:
        await sup.stop()
    result: dict[str, object] = {"measure": "P5", "trials": trials}
    for key, name, values, goal in (("crash", "crash → producing again", crash, 2.0),
                                    ("restart_all", "restart-all (.env) → all producing", restart, 5.0)):
        print(f"{name:36} median {statistics.median(values):.2f} s  (min {min(values):.2f}, max {max(values):.2f}, "
              f"n={len(values)}, goal ≤ {goal:.0f} s)")
        result[key] = {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
                       "max": round(max(values), 3), "n": len(values), "goal": goal}
    print("RESULT " + json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="piyasa-bench-"))
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    os.chdir(folder)
    for key in [k for k in os.environ if k.startswith("PIYASA_") or k in ("DATABASE_URL", "REDIS_URL")]:
        del os.environ[key]
    # Each measured crash is a worker's first after a stable run (repeated crashes back off on purpose).
    os.environ["PIYASA_SUPERVISOR__BACKOFF_RESET_AFTER"] = "2"
    try:
        asyncio.run(run(args.trials))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
