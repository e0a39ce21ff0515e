"""Which shards a host should hold: an even spread over the live hosts that moves as few shards as possible.

Every host computes the same targets from the same database state (the live hosts, the leases) and
acts on its own part only: it gives up what it holds beyond its target and takes free shards up to
it. A shard stays with its holder as long as the holder is not above its target, so a join moves
only the shards the newcomer needs (at most ceil(S / hosts)) and a loss moves only the lost host's.
Among free shards a host prefers those with the highest rendezvous score for it, so two hosts
rarely reach for the same one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from piyasa_core.engine.sharding import rendezvous_score


def targets(shards: int, hosts: Sequence[str]) -> dict[str, int]:
    """How many shards each live host should hold: S // n each, the remainder to the first hosts by name."""
    ordered = sorted(hosts)
    if not ordered:
        return {}
    base, extra = divmod(shards, len(ordered))
    return {host: base + (1 if i < extra else 0) for i, host in enumerate(ordered)}


def plan_moves(me: str, shards: int, hosts: Sequence[str], holders: Mapping[int, str | None]) -> tuple[list[int], list[int]]:
    """(shards to release, free shards to try to take) for host ``me``.

    ``hosts``: the live hosts taking shards (a draining host is not among them: its target is 0).
    ``holders``: shard → its valid holder, None when free or expired.
    """
    want = targets(shards, hosts).get(me, 0)
    mine = sorted((s for s, h in holders.items() if h == me), key=lambda s: rendezvous_score(s, me))
    if len(mine) > want:
        return mine[: len(mine) - want], []  # the ones it fits least first
    free = [s for s in range(shards) if holders.get(s) is None]
    free.sort(key=lambda s: rendezvous_score(s, me), reverse=True)
    return [], free[: want - len(mine)]
