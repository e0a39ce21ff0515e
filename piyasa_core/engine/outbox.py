"""The worker's outbox writes: those of one event-loop turn share one transaction.

Every message costs two writes (the ``pending`` row before the transport is asked, ``sent`` or
``failed`` after it answered). Each caller still waits until its own write is committed, so the
crash guarantees stay those of ``repo``: a row is ``pending`` in the database before the transport
sees the message, and ``sent`` before the engine reports it. What changes is that the writes of
all turns that reached the outbox in the same loop turn share one transaction and one commit, on
a connection the outbox holds (a connection the server dropped is replaced and the batch run
again, since nothing of it was written).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from piyasa_core.engine import repo
from piyasa_core.fleet.leases import fence_check

log = logging.getLogger(__name__)


class CommitFailed(RuntimeError):
    """The batch's commit failed: nobody knows what was written, so none of it is run again."""


@dataclass(frozen=True)
class _Write:
    """One queued write: ``apply`` runs it on a connection and returns what its caller waits for."""

    apply: Callable[[Connection], Any]
    done: asyncio.Future[Any]


class Outbox:
    """Batched, awaited outbox writes of one worker (one event loop)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._queued: list[_Write] = []
        self._flush_scheduled = False
        self.batches = 0
        self.writes = 0

    async def add_pending(self, *, fence: tuple[str, str, int] | None = None, **row: Any) -> int:
        """Insert the ``pending`` row (``repo.insert_pending``'s arguments); returns its id once committed.
        With ``fence`` (fleet mode: lease, holder, epoch) only while that lease is still held, in the
        same transaction; else ``leases.Fenced`` is raised and nothing is written."""
        def apply(conn: Connection) -> int:
            if fence is not None:
                fence_check(conn, fence)
            return repo.insert_pending(conn, **row)
        return int(await self._submit(apply))

    async def mark_sent(self, message_id: int, transport_message_id: int | None, sent_at: float,
                        fence: tuple[str, str, int] | None = None) -> None:
        """The transport accepted the message; returns once committed (fenced as ``add_pending``)."""
        def apply(conn: Connection) -> None:
            if fence is not None:
                fence_check(conn, fence)
            repo.mark_sent(conn, message_id, transport_message_id, sent_at)
        await self._submit(apply)

    async def mark_failed(self, message_id: int, reason: str, *, disable_chat_id: int | None = None) -> None:
        """The transport refused the message (and, if asked, the chat is disabled); returns once committed."""
        def apply(conn: Connection) -> None:
            repo.mark_failed(conn, message_id, reason)
            if disable_chat_id is not None:
                repo.set_chat_enabled(conn, disable_chat_id, False)
        await self._submit(apply)

    def close(self) -> None:
        """Write whatever is still queued (at the end of a drain) and give the connection back."""
        if self._queued:
            self._flush()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _submit(self, apply: Callable[[Connection], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        write = _Write(apply, loop.create_future())
        self._queued.append(write)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return write.done

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._queued = self._queued, []
        if not batch:
            return
        self.batches += 1
        self.writes += len(batch)
        try:
            results = self._in_transaction(lambda conn: [write.apply(conn) for write in batch])
        except CommitFailed as exc:  # some of it may be written: running it again could write it twice
            for write in batch:
                self._settle(write, exc=exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                self._settle(batch[0], exc=exc)
                return
            for write in batch:  # one bad write must not fail the others: each again on its own
                try:
                    self._settle(write, self._in_transaction(write.apply))
                except Exception as single:
                    self._settle(write, exc=single)
            return
        for write, result in zip(batch, results, strict=True):
            self._settle(write, result)

    def _in_transaction(self, work: Callable[[Connection], Any]) -> Any:
        for attempt in (1, 2):
            conn = self._connection()
            trans = conn.begin()
            try:
                result = work(conn)
            except DBAPIError as exc:
                self._discard(conn, trans)
                if exc.connection_invalidated and attempt == 1:
                    continue  # the server dropped the held connection before anything was written
                raise
            except Exception:
                self._discard(conn, trans)
                raise
            try:
                trans.commit()
            except Exception as exc:
                self._discard(conn, trans)
                raise CommitFailed(f"the outbox commit failed ({type(exc).__name__})") from exc
            return result
        raise AssertionError("unreachable")

    def _connection(self) -> Connection:
        # Held between batches: checking a connection out of the pool per batch cost ~15 % of the
        # engine's throughput with four SQLite workers.
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _discard(self, conn: Connection, trans: Any) -> None:
        """After a failed batch the connection may be unusable: the next batch takes a fresh one."""
        self._conn = None
        for step in (trans.rollback, conn.close):
            try:
                step()
            except Exception:
                log.debug("cleaning up after a failed outbox write", exc_info=True)

    @staticmethod
    def _settle(write: _Write, result: Any = None, *, exc: BaseException | None = None) -> None:
        if write.done.done():  # its caller was cancelled
            return
        if exc is not None:
            write.done.set_exception(exc)
        else:
            write.done.set_result(result)

