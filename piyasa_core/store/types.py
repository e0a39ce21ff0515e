"""Column types: timestamps go in and come out as timezone-aware UTC, whatever the backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from piyasa_core.timeutil import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC (naive on SQLite, ``timestamptz`` on PostgreSQL); always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = as_utc(value)
        if dialect.name == "sqlite":
            return aware.replace(tzinfo=None)
        return aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)
