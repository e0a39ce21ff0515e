"""Which worker owns which bot: the one place that decides."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def owner_modulo(bot_id: int, total: int) -> int:
    """``bot_id % total`` — the older system's rule, stable while the worker count is fixed."""
    if total < 1:
        raise ValueError("total workers must be at least 1")
    return bot_id % total


def rendezvous_score(key: int, worker: str) -> int:
    """The highest-random-weight score of ``key`` (a bot or a fleet shard) for ``worker``."""
    digest = hashlib.blake2b(f"{worker}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_rendezvous(bot_id: int, workers: Iterable[str]) -> str:
    """Highest-random-weight hashing over named workers (adding or removing a worker moves only the
    bots it gains or loses)."""
    names = list(workers)
    if not names:
        raise ValueError("no workers to choose from")
    return max(names, key=lambda worker: rendezvous_score(bot_id, worker))


def fleet_shard(bot_id: int, shards: int) -> int:
    """The fleet-wide shard of a bot (``[fleet] shards``)."""
    return owner_modulo(bot_id, shards)


def fleet_worker(shard_id: int, total: int) -> int:
    """The local worker that runs a fleet shard on the host holding it (a whole shard in one worker)."""
    return owner_modulo(shard_id, total)


def owns(bot_id: int, worker_id: int, total: int) -> bool:
    """True when worker ``worker_id`` of ``total`` runs bot ``bot_id``."""
    return owner_modulo(bot_id, total) == worker_id


def shard(bot_ids: Iterable[int], worker_id: int, total: int) -> list[int]:
    """The bots of one worker, in id order."""
    return sorted(b for b in bot_ids if owns(b, worker_id, total))
