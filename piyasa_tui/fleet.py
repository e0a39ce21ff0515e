"""Fleet mode as the operator sees it: the snapshot's ``fleet`` (``piyasa_core/fleet/agent.py``
``FleetView.to_dict``) read into small immutable rows, and the words both the `status`/`drain` commands
and the dashboard write them with. No Textual here: the commands import it without a screen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LIVE, DRAINING, GONE = "live", "draining", "gone"
SYMBOL = {LIVE: "●", DRAINING: "◐", GONE: "✕"}
STYLE = {LIVE: "green", DRAINING: "yellow", GONE: "bold red"}
NOT_FLEET = "not in fleet mode ([fleet] enabled = false on this host; docs/fleet.md)"


@dataclass(frozen=True)
class HostRow:
    """One host of the fleet as the attached host's agent last saw it (its heartbeat's summary)."""

    host_id: str
    here: bool  # the host whose snapshot this is
    state: str  # live | draining | gone
    heartbeat_age_s: float | None  # by PostgreSQL's clock, at the agent's last round
    shards: tuple[int, ...]  # the shards it holds (valid leases)
    target: int  # what the even spread gives it (0 when draining or gone)
    worker_states: tuple[str, ...]
    sent_total: int | None
    rate_1m: float | None  # msg per simulated minute, its own clock
    rate_10m: float | None
    address: str
    version: str
    started_at: float | None

    @property
    def held(self) -> int:
        return len(self.shards)

    @property
    def symbol(self) -> str:
        return SYMBOL[self.state]

    @property
    def style(self) -> str:
        return STYLE[self.state]


@dataclass(frozen=True)
class FleetSummary:
    """The whole fleet: this host, the shard count and lease, every host, who holds what."""

    host_id: str
    shards: int
    lease_ttl: float
    draining: bool
    hosts: tuple[HostRow, ...]
    holders: dict[int, str | None]
    moves: int
    error: str

    @property
    def here(self) -> HostRow | None:
        return next((h for h in self.hosts if h.here), None)

    @property
    def unheld(self) -> tuple[int, ...]:
        """Shards no valid lease covers now: their bots are silent until a host takes them."""
        return tuple(s for s in range(self.shards) if self.holders.get(s) is None)

    @property
    def holding(self) -> int:
        """How many hosts hold at least one shard."""
        return len({h for h in self.holders.values() if h})

    def held_by(self, host_id: str) -> int:
        return sum(1 for h in self.holders.values() if h == host_id)

    def others_live(self) -> tuple[str, ...]:
        """The live, not draining hosts other than this one (where a drain sends the shards)."""
        return tuple(h.host_id for h in self.hosts if not h.here and h.state == LIVE)

    def shards_line(self) -> str:
        """`shards: 12, lease 10 s, held by 3 hosts, unheld: none` (or the unheld shard list)."""
        unheld = self.unheld
        hosts = self.holding
        return (f"shards: {self.shards}, lease {self.lease_ttl:g} s, held by {hosts} host{'s' if hosts != 1 else ''}, "
                f"unheld: {shard_ranges(unheld) if unheld else 'none'}")


def _number(value: Any, kind: type) -> Any:
    try:
        return None if value is None else kind(value)
    except (TypeError, ValueError):
        return None


def read_fleet(data: Mapping[str, Any] | None) -> FleetSummary | None:
    """The snapshot's ``fleet`` (its JSON form) as a :class:`FleetSummary`; None when not in fleet mode.
    Tolerant: a key an older host did not send is shown as unknown, not an error."""
    if not data:
        return None
    me = str(data.get("host_id", ""))
    holders: dict[int, str | None] = {}
    for key, holder in (data.get("holders") or {}).items():
        shard = _number(key, int)
        if shard is not None:
            holders[shard] = str(holder) if holder else None
    hosts = []
    for h in data.get("hosts") or ():
        host_id = str(h.get("host_id", "?"))
        live = bool(h.get("live", False))
        state = GONE if not live else DRAINING if h.get("draining") else LIVE
        held = h.get("shards")
        shards = tuple(sorted(int(s) for s in held)) if isinstance(held, (list, tuple)) else \
            tuple(s for s, holder in sorted(holders.items()) if holder == host_id)
        hosts.append(HostRow(
            host_id=host_id, here=host_id == me, state=state, heartbeat_age_s=_number(h.get("heartbeat_age_s"), float),
            shards=shards, target=_number(h.get("target"), int) or 0,
            worker_states=tuple(str(s) for s in h.get("worker_states") or ()),
            sent_total=_number(h.get("sent_total"), int), rate_1m=_number(h.get("rate_1m"), float),
            rate_10m=_number(h.get("rate_10m"), float), address=str(h.get("address") or ""),
            version=str(h.get("version") or ""), started_at=_number(h.get("started_at"), float)))
    return FleetSummary(host_id=me, shards=_number(data.get("shards"), int) or len(holders),
                        lease_ttl=_number(data.get("lease_ttl"), float) or 0.0, draining=bool(data.get("draining")),
                        hosts=tuple(hosts), holders=holders, moves=_number(data.get("moves"), int) or 0,
                        error=str(data.get("error") or ""))


def shard_ranges(shards: Iterable[int]) -> str:
    """`0-3, 8, 10-11` (sorted, consecutive runs joined); `–` for none."""
    ordered = sorted(set(shards))
    if not ordered:
        return "–"
    runs: list[list[int]] = [[ordered[0], ordered[0]]]
    for shard in ordered[1:]:
        if shard == runs[-1][1] + 1:
            runs[-1][1] = shard
        else:
            runs.append([shard, shard])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def workers_text(states: Sequence[str]) -> str:
    """`4 running`, `3 running, 1 backoff` (most common first); `–` when unknown."""
    if not states:
        return "–"
    counts: dict[str, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def age_text(seconds: float | None) -> str:
    """A heartbeat's age: `0.4 s`, `41 s`, `2m05s`, `3h10m`; `–` when unknown."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def state_words(host: HostRow) -> str:
    """`live`, `draining`, `gone` — and `here` for the attached host."""
    return host.state + (" (here)" if host.here else "")


def rate_text(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1f}"
