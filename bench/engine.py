"""Engine ceiling: instant offline provider, pacing off, console transport.

Runs 1 and 4 worker processes on SQLite and PostgreSQL, with 10 bots in 1 chat and 1,000 bots in
50 chats, and prints messages per second and CPU milliseconds per message (worker processes' own
CPU; the PostgreSQL server's CPU is not included).

    .venv/bin/python bench/engine.py [--duration 10] [--only sqlite] [--workers 1,4] [--bots 10,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import multiprocess as mp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERSONAS = [
    ("investor", "medium", ["GARAN", "THYAO", "EREGL", "SAHOL"]),
    ("scalper", "fast", ["SISE", "KCHOL", "ASELS", "BTCUSDT"]),
    ("economist", "slow", ["USDTRY", "EURTRY", "enflasyon", "TCMB"]),
    ("newbie", "medium", ["BIST30", "USDTRY", "altın"]),
]


def write_config(folder: Path, bots: int, chats: int, workers: int) -> Path:
    """A config with ``bots`` bots spread over ``chats`` console chats (every bot in one chat)."""
    lines = [(ROOT / "config.toml").read_text(encoding="utf-8").split("# ── Chats")[0]]
    lines[0] = lines[0].replace("workers = 4 ", f"workers = {workers} ")
    for c in range(chats):
        lines.append(f'[[chats]]\nkey = "bench-{c}"\ntitle = "Bench {c}"\ntopics = ["BIST", "döviz", "enflasyon"]\n')
    for b in range(bots):
        persona, speed, watch = PERSONAS[b % 4]
        lines.append(f'[[bots]]\nname = "Bot {b}"\nusername = "bench_bot_{b}"\npersona = "{persona}"\n'
                     f'speed = "{speed}"\nwatchlist = {watch!r}\nchats = ["bench-{b % chats}"]\n'.replace("'", '"'))
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def worker(config_path: str, env: dict[str, str], worker_id: int, total: int, duration: float, start_at: float,
           out: mp.Queue[dict[str, float]]) -> None:
    os.environ.update(env)
    os.chdir(Path(config_path).parent)
    from piyasa_core.config import load_config
    from piyasa_core.engine.factory import build_engine
    from piyasa_core.store import open_store

    config = load_config(config_path)
    store = open_store(config)
    engine = build_engine(config, store, worker_id=worker_id, total=total, pacing=False, seed=worker_id + 1,
                          max_inflight=256)

    async def run() -> dict[str, float]:
        await engine.start()
        while time.time() < start_at:
            await asyncio.sleep(0.002)
        stop = asyncio.Event()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        task = asyncio.create_task(engine.run(stop))
        await asyncio.sleep(duration)
        sent_at_stop = engine.counts["sent"]
        cpu1, wall1 = time.process_time(), time.perf_counter()
        stop.set()
        await task
        return {"sent": sent_at_stop, "cpu": cpu1 - cpu0, "wall": wall1 - wall0,
                "skipped": sum(v for k, v in engine.counts.items() if k.startswith(("skipped", "duplicate")))}

    out.put(asyncio.run(run()))
    store.dispose()


def run_case(backend: str, workers: int, bots: int, chats: int, duration: float, pg_admin: str) -> dict[str, float]:
    import psycopg

    from piyasa_core.config import load_config
    from piyasa_core.store.bootstrap import initialise

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_config(folder, bots, chats, workers)
        env = {"PIYASA_LLM__PROVIDERS__OFFLINE__LATENCY_MS": "0",
               "PIYASA_LLM__PROVIDERS__OFFLINE__LATENCY_JITTER_MS": "0", "REDIS_URL": ""}
        dbname = None
        if backend == "postgresql":
            dbname = f"piyasa_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(pg_admin, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{dbname}"')
            env["DATABASE_URL"] = pg_admin.rsplit("/", 1)[0] + "/" + dbname
        os.environ.update(env)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            initialise(load_config(path))
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            start_at = time.time() + 4.0 + workers
            procs = [ctx.Process(target=worker, args=(str(path), env, w, workers, duration, start_at, out))
                     for w in range(workers)]
            for proc in procs:
                proc.start()
            results = [out.get(timeout=duration + 120) for _ in procs]
            for proc in procs:
                proc.join(timeout=30)
        finally:
            os.chdir(cwd)
            for key in env:
                os.environ.pop(key, None)
            if dbname:
                with psycopg.connect(pg_admin, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    sent = sum(r["sent"] for r in results)
    cpu = sum(r["cpu"] for r in results)
    return {"sent": sent, "rate": sent / duration, "cpu_ms": 1000 * cpu / max(1, sent),
            "skipped": sum(r["skipped"] for r in results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--bots", default="10,1000")
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test", help="admin URL (creates a database)")
    args = parser.parse_args()
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    cases: list[dict[str, object]] = []
    print(f"{'backend':10} {'workers':>7} {'bots':>5} {'chats':>5} {'msg/s':>9} {'CPU ms/msg':>11} {'skipped':>8}")
    for backend in backends:
        for workers in (int(w) for w in args.workers.split(",")):
            for bots in (int(b) for b in args.bots.split(",")):
                chats = 1 if bots <= 10 else 50
                r = run_case(backend, workers, bots, chats, args.duration, args.pg)
                print(f"{backend:10} {workers:>7} {bots:>5} {chats:>5} {r['rate']:>9.1f} {r['cpu_ms']:>11.2f} "
                      f"{int(r['skipped']):>8}", flush=True)
                cases.append({"backend": backend, "workers": workers, "bots": bots, "chats": chats,
                              "rate": round(r["rate"], 1), "cpu_ms": round(r["cpu_ms"], 3),
                              "skipped": int(r["skipped"])})
    print("RESULT " + json.dumps({"measure": "P1/P7", "duration": args.duration, "cases": cases}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
