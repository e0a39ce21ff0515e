"""`init`: create or upgrade the schema, then sync bots and chats from the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text

from piyasa_core.config import Config
from piyasa_core.store import open_store
from piyasa_core.store.db import check_reachable, session_scope
from piyasa_core.store.migrate import upgrade
from piyasa_core.store.models import Bot
from piyasa_core.store.seed import SyncReport, sync_from_config


@dataclass(frozen=True)
class BotRow:
    """A bot as listed after init."""

    id: int
    name: str
    username: str
    persona: str
    enabled: bool
    worker: int
    chats: tuple[str, ...]
    operator_disabled: bool = False  # turned off at runtime; init keeps it so

    @property
    def talks(self) -> bool:
        return self.enabled and not self.operator_disabled


@dataclass(frozen=True)
class InitResult:
    url: str
    before: str | None
    after: str
    sync: SyncReport
    bots: tuple[BotRow, ...]


INIT_LOCK_KEY = 0x70697961  # "piya": PostgreSQL advisory lock taken by `init` (and every serve's start-up)


def initialise(config: Config) -> InitResult:
    """Migrate to head and sync; raises :class:`StoreUnavailable` if the database is unreachable."""
    store = open_store(config)
    lock = None
    try:
        check_reachable(store.engine)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if store.engine.dialect.name == "postgresql":
            # hosts of a fleet starting together must not migrate and sync the same database at once
            lock = store.engine.connect()
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": INIT_LOCK_KEY})
            lock.commit()
        before, after = upgrade(store.engine)
        workers = config.settings.supervisor.workers
        with session_scope(store.sessions) as session:
            report = sync_from_config(session, config.settings)
            session.flush()
            bots = tuple(
                BotRow(b.id, b.name, b.username, b.persona, b.enabled, b.id % workers,
                       tuple(c.key for c in b.chats if c.run_id is None), b.operator_disabled)
                for b in session.scalars(select(Bot).order_by(Bot.id))
            )
        return InitResult(store.url, before, after, report, bots)
    finally:
        if lock is not None:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": INIT_LOCK_KEY})
            lock.close()
        store.dispose()
