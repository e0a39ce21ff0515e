"""Engines and sessions: SQLite (WAL, busy timeout) by default, PostgreSQL via psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from piyasa_core.errors import StoreUnavailable
from piyasa_core.secrets import redact, register_secret


def describe_url(url: str | URL) -> str:
    """The URL as shown to operators: password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable database URL)"


def stall_limits(stall_s: float) -> dict[str, Any]:
    """libpq settings under which neither side waits longer than ``stall_s`` for a peer that went
    silent (a network partition): the server ends a session left idle inside a transaction, releasing
    its row locks, and the client gives up on unacknowledged data and on a silent connection."""
    ms = max(1000, int(stall_s * 1000))
    return {"options": f"-c idle_in_transaction_session_timeout={ms}", "keepalives": 1,
            "keepalives_idle": max(1, int(stall_s / 2)), "keepalives_interval": 1, "keepalives_count": 3,
            "tcp_user_timeout": ms}


def make_engine(url: str, *, busy_timeout_ms: int = 5000, connect_timeout: float = 5.0,
                echo: bool = False, stall_s: float | None = None) -> Engine:
    """Create an engine; SQLite files get WAL, a busy timeout and foreign keys; PostgreSQL with
    ``stall_s`` gets :func:`stall_limits` (fleet mode: a partitioned holder must not keep its locks)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUnavailable("database: cannot parse the database URL (check [database] url / "
                               "DATABASE_URL)") from None
    if parsed.password:
        register_secret(str(parsed.password))
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"database: cannot create the folder of {database}: "
                                       f"{exc.strerror}") from None
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": max(1, int(connect_timeout)),
                                  **(stall_limits(stall_s) if stall_s else {})}
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreUnavailable(f"database: unsupported URL {describe_url(parsed)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def check_reachable(engine: Engine) -> str:
    """Open one connection; return the server version or raise a one-line error (password hidden)."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + str(conn.execute(text("select sqlite_version()")).scalar())
            return str(conn.execute(text("select version()")).scalar()).split(",")[0]
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise StoreUnavailable(f"database: cannot reach {describe_url(engine.url)}: "
                               f"{redact(reason)}") from None
    except OSError as exc:
        raise StoreUnavailable(f"database: cannot open {describe_url(engine.url)}: {exc}") from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read, then handed on as DTOs)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
