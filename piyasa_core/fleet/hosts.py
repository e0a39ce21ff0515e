"""The fleet's hosts: registration, heartbeat (by PostgreSQL's clock), draining, and what each shows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

_BEAT = text(
    "INSERT INTO fleet_hosts (host_id, address, workers, version, started_at, heartbeat_at, draining, summary) "
    "VALUES (:host_id, :address, :workers, :version, clock_timestamp(), clock_timestamp(), :draining, "
    "CAST(:summary AS json)) "
    "ON CONFLICT (host_id) DO UPDATE SET address = EXCLUDED.address, workers = EXCLUDED.workers, "
    "version = EXCLUDED.version, heartbeat_at = clock_timestamp(), draining = EXCLUDED.draining, "
    "summary = EXCLUDED.summary")
_RESTART = text("UPDATE fleet_hosts SET started_at = clock_timestamp() WHERE host_id = :host_id")
_READ = text(
    "SELECT host_id, address, workers, version, started_at, heartbeat_at, draining, summary, "
    "extract(epoch from clock_timestamp() - heartbeat_at) FROM fleet_hosts ORDER BY host_id")
_FORGET = text("DELETE FROM fleet_hosts WHERE host_id = :host_id")


@dataclass(frozen=True)
class Host:
    """A host as the database shows it; ``age_s``: seconds since its last heartbeat (database clock)."""

    host_id: str
    address: str
    workers: int
    version: str
    started_at: float
    heartbeat_at: float
    draining: bool
    age_s: float
    summary: dict[str, Any] = field(default_factory=dict)

    def live(self, ttl: float) -> bool:
        """Heard from within the lease timeout."""
        return self.age_s < ttl


def beat(conn: Connection, *, host_id: str, address: str, workers: int, version: str, draining: bool,
         summary: dict[str, Any], starting: bool = False) -> None:
    """Register the host or renew its heartbeat, with what it shows the fleet (``summary``)."""
    conn.execute(_BEAT, {"host_id": host_id, "address": address, "workers": workers, "version": version,
                         "draining": draining, "summary": json.dumps(summary, default=str)})
    if starting:
        conn.execute(_RESTART, {"host_id": host_id})


def read(conn: Connection) -> list[Host]:
    """Every registered host (live or not), by id."""
    out = []
    for host_id, address, workers, version, started, beat_at, draining, summary, age in conn.execute(_READ):
        if isinstance(summary, str):
            summary = json.loads(summary)
        out.append(Host(str(host_id), str(address), int(workers), str(version), started.timestamp(),
                        beat_at.timestamp(), bool(draining), float(age or 0.0), dict(summary or {})))
    return out


def forget(conn: Connection, host_id: str) -> None:
    """Remove a host's row (it left the fleet on purpose: drained and stopped)."""
    conn.execute(_FORGET, {"host_id": host_id})
