"""A supervisor's part in a fleet: its lease agent, the reply-job relay, and draining."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from piyasa_core.engine.sharding import fleet_shard, fleet_worker
from piyasa_core.engine.types import ReplyJob
from piyasa_core.fleet.agent import FleetAgent
from piyasa_core.fleet.jobs import JobRelay
from piyasa_core.fleet.timeline import shared_timeline

log = logging.getLogger(__name__)


class FleetHost:
    """Wires a supervisor into the fleet: which local worker runs a bot, jobs for bots held elsewhere,
    the agent's rounds, and a drain that hands every shard over before the serve stops."""

    def __init__(self, supervisor: Any, host_id: str, address: str) -> None:
        from piyasa_core.engine.factory import redis_client

        self.sup = supervisor
        fleet = supervisor.config.settings.fleet
        self.agent = FleetAgent(supervisor.store.engine, host_id=host_id, shards=fleet.shards,
                                lease_ttl=fleet.lease_ttl, renew_every=fleet.renew_interval,
                                workers=supervisor.total, address=address, summary=self.summary,
                                apply=supervisor.apply_shards)
        # the relay's subscription sits idle between jobs: PINGed after a renewal round of silence, so one
        # that died in a partition is noticed (and re-made) instead of missing every job after the heal
        client = redis_client(supervisor.config, health_check_interval=fleet.renew_interval)
        self.relay = JobRelay(client, supervisor.config.settings.cache.key_prefix, host_id) if client else None
        self.on_drained: Callable[[], None] | None = None  # the serve's stop
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def host_id(self) -> str:
        return self.agent.host_id

    async def first_round(self) -> None:
        """Join the fleet's simulated timeline, register and take this host's shards before the workers
        start (they start with both)."""
        sup = self.sup
        if sup.scope is None:  # a benchmark run keeps its own clock
            line = await asyncio.to_thread(shared_timeline, self.agent.db, host_id=self.host_id,
                                           sim_start=sup.sim_now(), time_scale=sup.time_scale, ttl=self.agent.ttl)
            with sup.lock:
                sup.time_scale, sup.sim_start, sup.sim_anchor = line.time_scale, line.sim_now, time.monotonic()
            log.info("fleet %s: %s the fleet's simulated timeline", self.host_id,
                     "joined" if line.joined else "anchored")
        await asyncio.to_thread(self.agent.step)

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self.agent.run(self._stop))]
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(self._stop, self.relayed, self.sup.bot_switched)))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def leave(self) -> None:
        """After the workers drained: hand every lease over now (else they expire within lease_ttl)."""
        try:
            await asyncio.to_thread(self.agent.release_all)
        except Exception as exc:  # noqa: BLE001 - the leases then expire on their own
            log.warning("fleet: could not release the leases (%s); they expire within %.0f s", exc, self.agent.ttl)

    def spec(self, worker_id: int) -> dict[str, Any]:
        """What a worker process starts with: the host id its writes are fenced by, its shards."""
        return {"fleet_host": self.host_id, "shard_epochs": self.agent.epochs_for(worker_id)}

    def local_worker(self, bot_id: int) -> int | None:
        """The local worker running the bot's shard, or None when another host (or none) holds it."""
        shard = fleet_shard(bot_id, self.agent.shards)
        if shard in self.agent.held and shard not in self.agent.releasing:
            return fleet_worker(shard, self.sup.total)
        return None

    def relay_job(self, job: ReplyJob, loop: asyncio.AbstractEventLoop | None) -> bool:
        """Publish a job for a bot held elsewhere; False when there is no relay (no Redis)."""
        if self.relay is None or loop is None:
            return False
        relay = self.relay
        loop.call_soon_threadsafe(lambda: loop.create_task(relay.publish(job)))
        return True

    def relay_bot_switch(self, bot_id: int, enabled: bool) -> None:
        """The operator turned a bot on or off here: the other hosts' workers re-read who talks too."""
        if self.relay is not None:
            asyncio.get_running_loop().create_task(self.relay.publish_bot_switch(bot_id, enabled))

    def relayed(self, job: ReplyJob) -> None:
        """A reply job another host received: handed to the local worker when this host holds the shard."""
        worker = self.local_worker(job.bot_id)
        if worker is not None:
            self.sup.submit_to(worker, job)

    def summary(self) -> dict[str, Any]:
        """What this host shows the fleet's other hosts (their `status` and TUI)."""
        now, sim_now = time.time(), self.sup.sim_now()
        with self.sup.lock:
            views = [slot.view(now, sim_now) for slot in self.sup.slots.values()]
        return {"sent_total": sum(v.sent_total for v in views), "rate_1m": round(sum(v.rate_1m for v in views), 2),
                "rate_10m": round(sum(v.rate_10m for v in views), 2),
                "worker_states": [v.state for v in views], "draining": self.agent.draining}

    def drain(self) -> dict[str, Any]:
        """Hand this host's shards over to the others, then stop the serve."""
        self.agent.draining = True
        self.sup.notice("warning", f"host {self.host_id} draining: its shards go to the other hosts, then it stops")
        held = len(self.agent.held)
        asyncio.get_running_loop().create_task(self._finish_drain())
        return {"ok": True, "host": self.host_id, "shards": held}

    async def _finish_drain(self) -> None:
        deadline = time.monotonic() + 4 * self.agent.ttl
        while self.agent.held and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if self.on_drained is not None:
            self.on_drained()

    def view(self) -> dict[str, Any]:
        return self.agent.view.to_dict()
