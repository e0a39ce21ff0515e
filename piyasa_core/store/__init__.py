"""Persistence: SQLAlchemy models, engine/session helpers, Alembic migrations, seeding."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from piyasa_core.config import Config
from piyasa_core.store.db import describe_url, make_engine, session_factory


@dataclass(frozen=True)
class Store:
    """An engine plus its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def url(self) -> str:
        """The database URL with the password hidden."""
        return describe_url(self.engine.url)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(config: Config) -> Store:
    """Open the configured database (no connection is made until first use)."""
    db, fleet = config.settings.database, config.settings.fleet
    # a fleet host cut off inside a write must not hold the lease row's lock past its lease (a takeover
    # waits for it): half a lease, so the lock is gone before the lease could be taken over
    engine = make_engine(config.database_url, busy_timeout_ms=db.busy_timeout_ms,
                         connect_timeout=db.connect_timeout, echo=db.echo,
                         stall_s=fleet.lease_ttl / 2 if fleet.enabled else None)
    return Store(engine, session_factory(engine))


__all__ = ["Store", "open_store"]
