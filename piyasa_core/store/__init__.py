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
    db = config.settings.database
    engine = make_engine(config.database_url, busy_timeout_ms=db.busy_timeout_ms,
                         connect_timeout=db.connect_timeout, echo=db.echo)
    return Store(engine, session_factory(engine))


__all__ = ["Store", "open_store"]
