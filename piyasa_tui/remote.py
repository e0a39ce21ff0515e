"""`--attach`: the same screens for a running `--serve`, fed by its event stream."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from piyasa_core.control import ControlClient, ControlError
from piyasa_core.secrets import Secret, mask_url
from piyasa_core.workers.snapshot import Snapshot, snapshot_from_dict
from piyasa_tui.source import Link

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 10.0
"""A stream that brings nothing for this long is dropped and reconnected (the server pushes a snapshot
every 0.5 s; a server that died closes the connection at once, this catches a frozen one)."""


class RemoteSource:
    """A snapshot source over the control API: the newest snapshot from `/events`, actions as POSTs.
    :meth:`link` says whether the connection stands and how old the newest snapshot is; a lost
    connection is retried (0.5 s doubling up to 10 s) until :meth:`aclose`."""

    def __init__(self, url: str, token: Secret, *, clock: Any = time.time,
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        self.url = url
        self.client = ControlClient(url, token)
        self.clock = clock
        self.read_timeout = read_timeout
        self._snapshot: Snapshot | None = None
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self._link = Link(mask_url(url), connected=False, since=clock(), received_at=None)
        self.connected = asyncio.Event()
        self.error = ""

    async def start(self) -> None:
        """Fetch the first snapshot (fails fast with a clear error) and follow the event stream."""
        self._received(snapshot_from_dict(await self.client.status()))
        self._task = asyncio.create_task(self._follow())

    def link(self) -> Link:
        return self._link

    def _received(self, snapshot: Snapshot) -> None:
        now = self.clock()
        self._snapshot = snapshot
        since = self._link.since if self._link.connected else now
        self._link = Link(self._link.url, connected=True, since=since, received_at=now)
        self.connected.set()
        self.error = ""

    def _lost(self, error: str, retry_in: float | None) -> None:
        now = self.clock()
        since = now if self._link.connected else self._link.since
        error = error.removeprefix(f"control API at {mask_url(self.client.url)}: ")  # the header names the URL
        self._link = Link(self._link.url, connected=False, since=since, received_at=self._link.received_at,
                          error=error, retry_at=None if retry_in is None else now + retry_in)
        self.connected.clear()
        self.error = error

    async def _follow(self) -> None:
        try:
            async for kind, data in self.client.events(read_timeout=self.read_timeout):
                if kind == "snapshot":
                    self._received(snapshot_from_dict(data))
                elif kind == "disconnected":
                    self._lost(str(data.get("error", "")), float(data.get("retry_in", 0.0)))
                for q in list(self._subscribers):
                    if q.full():
                        q.get_nowait()
                    q.put_nowait({"type": kind, "data": data})
        except ControlError as exc:  # refused for good (a 4xx such as a changed token): not retried
            self._lost(str(exc), None)

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

    async def preview_restart(self) -> dict[str, Any]:
        return await self.client.restart_preview()

    async def set_simulation(self, running: bool) -> dict[str, Any]:
        return await self.client.simulation(running)

    async def post_human(self, chat: str, text: str, name: str = "Operatör") -> dict[str, Any]:
        return await self.client.post_human(chat, text, name)

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        return await self.client.benchmark(action, **options)

    async def message_detail(self, message_id: int) -> dict[str, Any]:
        return await self.client.message(message_id)

    async def set_bot_enabled(self, bot: int | str, enabled: bool) -> dict[str, Any]:
        return await self.client.set_bot_enabled(bot, enabled)

    async def drain_host(self) -> dict[str, Any]:
        return await self.client.drain_host()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()
