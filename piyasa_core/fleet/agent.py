"""A fleet host's agent: heartbeat, shard leases (take, renew, hand over) and the fleet's view.

It runs in the supervisor's event loop and does its database work in a thread, once every
``renew_interval`` (a third of the lease timeout by default). Each round it:

1. beats its heartbeat (with a summary the other hosts' status shows);
2. renews every lease it holds; one that could not be renewed is dropped from the workers at once;
3. reads the live hosts and the leases, and with :func:`plan_moves` hands over what it holds beyond
   its target (the worker stops the shard first; the lease is released a round later) and takes
   free or expired shards up to its target (a new epoch each);
4. tells each local worker its shards and epochs when they changed (``SetShards``).

When the database cannot be reached, the leases are dropped from the workers once the local deadline
(last successful renewal + lease timeout) has passed; the database would refuse their writes anyway.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from piyasa_core.engine.sharding import fleet_worker
from piyasa_core.fleet import hosts as host_rows
from piyasa_core.fleet import leases
from piyasa_core.fleet.assign import plan_moves, targets

log = logging.getLogger(__name__)
VERSION = "0.1.0"


@dataclass
class FleetView:
    """What the agent last saw of the fleet (for `status --json` and the TUI)."""

    host_id: str
    shards: int
    lease_ttl: float
    draining: bool = False
    hosts: list[dict[str, Any]] = field(default_factory=list)
    holders: dict[int, str | None] = field(default_factory=dict)
    moves: int = 0  # leases taken or handed over by this host since it started
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"host_id": self.host_id, "shards": self.shards, "lease_ttl": self.lease_ttl,
                "draining": self.draining, "hosts": self.hosts,
                "holders": {str(s): h for s, h in sorted(self.holders.items())}, "moves": self.moves,
                "error": self.error}


def default_host_id(port: int) -> str:
    """The machine's name and the control port: unique per supervisor on one machine."""
    return f"{socket.gethostname()}-{port}"


class FleetAgent:
    """Holds this host's shard leases and keeps the workers' shards in step with them."""

    def __init__(self, engine: Engine, *, host_id: str, shards: int, lease_ttl: float, renew_every: float,
                 workers: int, address: str = "", summary: Callable[[], dict[str, Any]] | None = None,
                 apply: Callable[[int, dict[int, int]], None] | None = None) -> None:
        self.db = engine
        self.host_id = host_id
        self.shards = shards
        self.ttl = lease_ttl
        self.every = renew_every
        self.workers = workers
        self.address = address
        self.summary = summary or (lambda: {})
        self.apply = apply or (lambda worker, epochs: None)  # tell worker ``worker`` its shards
        self.held: dict[int, int] = {}  # shard → epoch
        self.deadline: dict[int, float] = {}  # shard → monotonic time its lease surely ends
        self.releasing: dict[int, int] = {}  # shard → epoch: stopped in the workers, released next round
        self.draining = False
        self.view = FleetView(host_id, shards, lease_ttl)
        self._told: dict[int, dict[int, int]] = {}
        self._started = False
        self.next_round = renew_every  # seconds to the next round (sooner when a wanted lease is about to end)

    # ── what the workers run ────────────────────────────────────────────────────────────────
    def epochs_for(self, worker_id: int) -> dict[int, int]:
        """The shards (→ epoch) worker ``worker_id`` runs now."""
        return {s: e for s, e in self.held.items()
                if s not in self.releasing and fleet_worker(s, self.workers) == worker_id}

    def receiver_window(self, bot_id: int) -> float:
        """Seconds this host may still receive the updates of ``bot_id``'s token: the receiver of a token
        is the holder of its bot's shard, up to one second before that lease could end unrenewed (by
        then the long poll has returned), so the next holder never polls while this one does."""
        shard = bot_id % self.shards
        until = self.deadline.get(shard)
        if until is None or shard in self.releasing:
            return 0.0
        return max(0.0, until - 1.0 - time.monotonic())

    def _tell_workers(self, force: bool = False) -> None:
        for worker in range(self.workers):
            epochs = self.epochs_for(worker)
            if force or self._told.get(worker) != epochs:
                self._told[worker] = epochs
                self.apply(worker, epochs)

    # ── one round ───────────────────────────────────────────────────────────────────────────
    def step(self) -> None:
        """One round of heartbeat, renewals and moves (blocking: run it in a thread)."""
        started = time.monotonic()
        with self.db.begin() as conn:
            host_rows.beat(conn, host_id=self.host_id, address=self.address, workers=self.workers,
                           version=VERSION, draining=self.draining,
                           summary={**self.summary(), "shards": sorted(self.held)}, starting=not self._started)
            if not self._started:
                leases.ensure(conn, [leases.shard_lease(s) for s in range(self.shards)])
        self._started = True
        for shard, epoch in list(self.releasing.items()):  # the worker stopped it a round ago
            with self.db.begin() as conn:
                leases.release(conn, leases.shard_lease(shard), self.host_id, epoch)
            log.info("fleet %s: handed shard %d over (epoch %d)", self.host_id, shard, epoch)
            self.releasing.pop(shard)
            self.held.pop(shard, None)
            self.deadline.pop(shard, None)
            self.view.moves += 1
        for shard, epoch in list(self.held.items()):
            if shard in self.releasing:
                continue
            with self.db.begin() as conn:
                ok = leases.renew(conn, leases.shard_lease(shard), self.host_id, epoch, self.ttl)
            if ok:
                self.deadline[shard] = started + self.ttl
            else:
                log.warning("fleet %s: lost shard %d (epoch %d): another host holds it now", self.host_id, shard, epoch)
                self.held.pop(shard)
                self.deadline.pop(shard, None)
        with self.db.connect() as conn:
            fleet = host_rows.read(conn)
            current = {int(lease.name.split(":", 1)[1]): lease for lease in leases.read(conn, "shard:")}
        live = [h.host_id for h in fleet if h.live(self.ttl) and not h.draining]
        if self.draining:
            live = [h for h in live if h != self.host_id]
        elif self.host_id not in live:
            live.append(self.host_id)
        holders = {s: (current[s].holder if s in current and current[s].valid else None) for s in range(self.shards)}
        for shard in self.held:  # what this host holds counts as held even if the read raced a renewal
            holders[shard] = self.host_id
        if self.draining:  # target 0: hand everything over, take nothing
            release, take = sorted(self.held), []
        else:
            release, take = plan_moves(self.host_id, self.shards, live, holders)
        for shard in release:
            if shard not in self.releasing:
                self.releasing[shard] = self.held[shard]
        raced = False  # another host took a shard this one tried for: the rest may still be free
        for shard in take:
            try:
                with self.db.begin() as conn:
                    epoch = leases.acquire(conn, leases.shard_lease(shard), self.host_id, self.ttl)
            except OperationalError as exc:  # a cut-off writer still locks the row: the next round tries again
                log.warning("fleet %s: shard %d not taken this round (%s)", self.host_id, shard,
                            str(exc.orig).splitlines()[0] if exc.orig else exc)
                continue
            raced = raced or epoch is None
            if epoch is not None:
                log.info("fleet %s: took shard %d (epoch %d)", self.host_id, shard, epoch)
                self.held[shard] = epoch
                self.deadline[shard] = started + self.ttl
                holders[shard] = self.host_id
                self.view.moves += 1
        self._tell_workers()
        # look again the moment something may be taken over, not up to a whole round later: when a host that
        # stopped beating stops counting as live (the others' targets grow), and, under its target, when
        # the first lease held elsewhere ends (a host that stopped renewing)
        wake = [self.every]
        if not self.draining:
            wake += [self.ttl - h.age_s + 0.05 for h in fleet if h.host_id != self.host_id and h.live(self.ttl)]
            if len(self.held) < targets(self.shards, live).get(self.host_id, 0):
                wake += [lease.seconds_left + 0.05 for lease in current.values()
                         if lease.valid and lease.holder not in (None, self.host_id)]
                if raced:  # two hosts went for the same free shard: look again at once for the others
                    wake.append(0.1)
        self.next_round = max(0.05, min(wake))
        self.view.draining = self.draining
        self.view.holders = holders
        self.view.hosts = [{"host_id": h.host_id, "address": h.address, "workers": h.workers,
                            "version": h.version, "live": h.live(self.ttl), "draining": h.draining,
                            "heartbeat_age_s": round(h.age_s, 2), "started_at": h.started_at,
                            "target": targets(self.shards, live).get(h.host_id, 0),
                            **{k: v for k, v in h.summary.items() if k != "shards"},
                            "shards": sorted(s for s, holder in holders.items() if holder == h.host_id)}
                           for h in fleet]
        self.view.error = ""

    def expire_unrenewed(self) -> None:
        """The database is out of reach: drop the shards whose lease surely ended by now."""
        now = time.monotonic()
        for shard in [s for s, until in self.deadline.items() if until <= now]:
            log.warning("fleet %s: shard %d's lease ran out unrenewed (database unreachable)", self.host_id, shard)
            self.held.pop(shard, None)
            self.deadline.pop(shard, None)
            self.releasing.pop(shard, None)
            if self.view.holders.get(shard) == self.host_id:  # not shown as held any more: unknown from here
                self.view.holders[shard] = None
        for host in self.view.hosts:
            if host["host_id"] == self.host_id:
                host["shards"] = sorted(self.held)
        self._tell_workers()

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every ``renew_every`` until ``stop``. A round the database does not answer (a
        partition: established connections hang rather than fail) is waited for no longer than a
        round; meanwhile the shards whose lease surely ended are dropped from the workers."""
        pending: asyncio.Future[None] | None = None
        while not stop.is_set():
            if pending is None or pending.done():
                pending = asyncio.ensure_future(asyncio.to_thread(self.step))
            try:
                await asyncio.wait_for(asyncio.shield(pending), timeout=max(self.every, 0.5))
            except asyncio.TimeoutError:
                self.view.error = f"the database did not answer within {self.every:.1f} s"
                log.warning("fleet %s: %s", self.host_id, self.view.error)
                self.expire_unrenewed()
            except Exception as exc:  # noqa: BLE001 - the database may be unreachable (a partition)
                self.view.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                log.warning("fleet %s: round failed: %s", self.host_id, self.view.error)
                self.expire_unrenewed()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.next_round)
            except asyncio.TimeoutError:
                pass
        if pending is not None and not pending.done():
            pending.cancel()  # the thread finishes on its own; its result is not wanted any more

    def release_all(self) -> None:
        """A clean stop (after the workers drained): hand every lease over now and leave the fleet."""
        with self.db.begin() as conn:
            for shard, epoch in self.held.items():
                leases.release(conn, leases.shard_lease(shard), self.host_id, epoch)
            host_rows.forget(conn, self.host_id)
        self.held.clear()
        self.releasing.clear()
        self.deadline.clear()
