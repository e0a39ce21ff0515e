"""Rate-limit utilisation: 4 worker processes against a fake provider enforcing 30 RPM / 6,000 TPM.

Each worker builds the real router (openai SDK → fake server) with the budget shared through the
real Redis and generates as fast as the budget allows for the run. Prints achieved requests and
tokens per minute as a fraction of the ceiling, the 429s the fake had to send, and lost messages.

    .venv/bin/python bench/ratelimit.py [--duration 60] [--workers 4] [--concurrency 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import multiprocess as mp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RPM, TPM = 30, 6000
PROMPT_UNIT = ("Sen Mehmet Yatırımcı'sın; 20 yıldır piyasadasın, sabırlısın ve öğretmeyi seversin. "
               "Kısa, doğal Türkçe yaz; getiri vaadi verme. ")
USER = "Sohbetin son satırları: Ayşe: SISE alev alev! Ali: verilere bakalım. GARAN hakkında kısa yaz."


def worker(index: int, url: str, redis_url: str, prefix: str, duration: float, concurrency: int,
           prompt_repeat: int, start_at: float, out: mp.Queue[dict[str, int]]) -> None:
    os.environ.update({"OPENAI_API_KEY": "sk-bench-000000000000000000", "OPENAI_BASE_URL": url + "/v1",
                       "LLM_PROVIDER": "openai", "PIYASA_LLM__PROVIDERS__OPENAI__RPM": str(RPM),
                       "PIYASA_LLM__PROVIDERS__OPENAI__TPM": str(TPM),
                       "PIYASA_LLM__MAX_BUDGET_WAIT": "120", "PIYASA_CACHE__KEY_PREFIX": prefix})
    import redis.asyncio as aioredis

    from piyasa_core.config import load_config
    from piyasa_core.llm.registry import build_router
    from piyasa_core.llm.types import ChatRequest

    async def run() -> dict[str, int]:
        client = aioredis.Redis.from_url(redis_url)
        router = build_router(load_config(ROOT / "config.toml"), redis_client=client)
        request = ChatRequest(system=PROMPT_UNIT * prompt_repeat, user=USER, max_tokens=60)
        stats = {"started": 0, "completed": 0, "tokens": 0, "failed": 0, "unsent_at_end": 0}
        while time.time() < start_at:
            await asyncio.sleep(0.005)
        deadline = start_at + duration

        async def loop() -> None:
            while time.time() < deadline:
                stats["started"] += 1
                try:
                    completion = await asyncio.wait_for(router.generate(request), deadline - time.time())
                except TimeoutError:
                    stats["unsent_at_end"] += 1  # still waiting for budget when the run ended
                    return
                except Exception:  # counted as lost
                    stats["failed"] += 1
                    continue
                stats["completed"] += 1
                stats["tokens"] += completion.total_tokens

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        await router.aclose()
        await client.aclose()
        return stats

    out.put(asyncio.run(run()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=3, help="generation loops per worker")
    parser.add_argument("--prompt-repeat", type=int, default=3,
                        help="prompt size: 3 → ~160 tokens (requests bind), 8 → ~390 tokens (tokens bind)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.llm_server", "--rpm", str(RPM), "--tpm",
                               str(TPM), "--latency-ms", "150"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()  # type: ignore[union-attr]
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 3.0
        procs = [ctx.Process(target=worker, args=(i, url, args.redis, prefix, args.duration, args.concurrency,
                                                  args.prompt_repeat, start_at, out)) for i in range(args.workers)]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=args.duration + 120) for _ in procs]
        for proc in procs:
            proc.join(timeout=10)
        with urllib.request.urlopen(url + "/_stats", timeout=5) as response:
            fake = json.load(response)
    finally:
        server.terminate()
        server.wait(timeout=10)

    minutes = args.duration / 60
    completed = sum(r["completed"] for r in results)
    tokens = sum(r["tokens"] for r in results)
    failed = sum(r["failed"] for r in results)
    sent = fake["admitted"] + fake["rejected_429"]
    print(f"workers {args.workers} × {args.concurrency} loops, {args.duration:.0f} s, ceiling {RPM} RPM / {TPM:,} TPM")
    print(f"requests admitted by the provider: {fake['admitted']}  ({fake['admitted'] / minutes:.1f}/min, "
          f"{fake['admitted'] / (RPM * minutes):.1%} of the request ceiling)")
    print(f"tokens: {tokens:,} ({tokens / minutes:,.0f}/min, {tokens / (TPM * minutes):.1%} of the token ceiling)")
    print(f"answered 429: {fake['rejected_429']} of {sent} requests sent ({fake['rejected_429'] / max(1, sent):.2%})")
    print(f"messages completed {completed}, lost {failed}, still waiting for budget at the end "
          f"{sum(r['unsent_at_end'] for r in results)} (never sent, not lost)")
    print("RESULT " + json.dumps({
        "measure": "P3", "duration": args.duration, "workers": args.workers, "concurrency": args.concurrency,
        "prompt_repeat": args.prompt_repeat, "rpm": RPM, "tpm": TPM, "admitted": fake["admitted"],
        "request_utilisation": round(fake["admitted"] / (RPM * minutes), 4), "tokens": tokens,
        "token_utilisation": round(tokens / (TPM * minutes), 4), "rejected_429": fake["rejected_429"],
        "requests_sent": sent, "rate_429": round(fake["rejected_429"] / max(1, sent), 4), "completed": completed,
        "lost": failed, "unsent_at_end": sum(r["unsent_at_end"] for r in results)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
