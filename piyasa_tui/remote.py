"""`--attach`: the same screens for a running `--serve`, fed by its event stream."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from piyasa_core.control import ControlClient
from piyasa_core.secrets import Secret
from piyasa_core.workers.snapshot import Snapshot, snapshot_from_dict

log = logging.getLogger(__name__)


class RemoteSource:
    """A snapshot source over the control API: the newest snapshot from `/events`, actions as POSTs."""

    def __init__(self, url: str, token: Secret) -> None:
        self.url = url
        self.client = ControlClient(url, token)
        self._snapshot: Snapshot | None = None
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.error = ""

    async def start(self) -> None:
        """Fetch the first snapshot (fails fast with a clear error) and follow the event stream."""
        self._snapshot = snapshot_from_dict(await self.client.status())
        self.connected.set()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        async for kind, data in self.client.events():
            if kind == "snapshot":
                self._snapshot = snapshot_from_dict(data)
                self.connected.set()
                self.error = ""
            elif kind == "disconnected":
                self.connected.clear()
                self.error = f"connection to {self.url} lost; retrying in {data.get('retry_in', '?')} s"
            for q in list(self._subscribers):
                if q.full():
                    q.get_nowait()
                q.put_nowait({"type": kind, "data": data})

    def snapshot(self) -> Snapshot:
        assert self._snapshot is not None, "start() first"
        return self._snapshot

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        if q in self._subscribers:
            self._subscribers.remove(q)

    async def switch_provider(self, name: str) -> dict[str, Any]:
        return await self.client.switch_provider(name)

    async def restart_workers(self, worker_id: int | None = None) -> dict[str, Any]:
        return await self.client.restart(worker_id)

    async def set_simulation(self, running: bool) -> dict[str, Any]:
        return await self.client.simulation(running)

    async def post_human(self, chat: str, text: str, name: str = "Operatör") -> dict[str, Any]:
        return await self.client.post_human(chat, text, name)

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        return await self.client.benchmark(action, **options)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()
