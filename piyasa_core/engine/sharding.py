"""Which worker owns which bot: the one place that decides."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def owner_modulo(bot_id: int, total: int) -> int:
    """``bot_id % total`` — the older system's rule, stable while the worker count is fixed."""
    if total < 1:
        raise ValueError("total workers must be at least 1")
    return bot_id % total


def owner_rendezvous(bot_id: int, workers: Iterable[str]) -> str:
    """Highest-random-weight hashing over named workers (for multi-host use: adding or removing a
    worker moves only the bots it gains or loses)."""
    def weight(worker: str) -> int:
        digest = hashlib.blake2b(f"{worker}:{bot_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    names = list(workers)
    if not names:
        raise ValueError("no workers to choose from")
    return max(names, key=weight)


def owns(bot_id: int, worker_id: int, total: int) -> bool:
    """True when worker ``worker_id`` of ``total`` runs bot ``bot_id``."""
    return owner_modulo(bot_id, total) == worker_id


def shard(bot_ids: Iterable[int], worker_id: int, total: int) -> list[int]:
    """The bots of one worker, in id order."""
    return sorted(b for b in bot_ids if owns(b, worker_id, total))
