"""Leases with expiry on PostgreSQL, one per shard (``shard:<n>``). A bot token's update receiver rides
on its bot's shard lease (the holder polls, within the lease: ``FleetAgent.receiver_window``).

PostgreSQL's own clock (``clock_timestamp()``) decides whether a lease is still valid, so a host whose
clock drifts or that was paused cannot extend what it held. Every new holder bumps ``epoch``; the epoch
is the fencing token: the outbox writes a shard's rows only while the lease row still shows the writer
as holder with that epoch and an expiry in the future (``fence_check``), checked in the same
transaction as the write, under a ``FOR SHARE`` lock a takeover's ``UPDATE`` has to wait for. We chose
lease rows over advisory locks because an advisory lock lives as long as one connection: a pooled or
re-opened connection would lose or keep it silently, and it carries no epoch to fence with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection


def shard_lease(shard: int) -> str:
    """The lease name of shard ``shard``."""
    return f"shard:{shard}"


@dataclass(frozen=True)
class Lease:
    """One lease row as read (``valid``: held and not expired by the database's clock)."""

    name: str
    holder: str | None
    epoch: int
    valid: bool
    seconds_left: float


class Fenced(RuntimeError):
    """A write for a shard whose lease this writer no longer holds (another host took it over)."""


_ENSURE = text("INSERT INTO fleet_leases (name, holder, epoch, expires_at) VALUES (:name, NULL, 0, NULL) "
               "ON CONFLICT (name) DO NOTHING")
_ACQUIRE = text(
    "UPDATE fleet_leases SET holder = :holder, epoch = epoch + 1, "
    "expires_at = clock_timestamp() + make_interval(secs => :ttl) "
    "WHERE name = :name AND (holder IS NULL OR expires_at IS NULL OR expires_at <= clock_timestamp()) "
    "RETURNING epoch")
_RENEW = text(
    "UPDATE fleet_leases SET expires_at = clock_timestamp() + make_interval(secs => :ttl) "
    "WHERE name = :name AND holder = :holder AND epoch = :epoch AND expires_at > clock_timestamp() "
    "RETURNING epoch")
_RELEASE = text("UPDATE fleet_leases SET holder = NULL, expires_at = NULL "
                "WHERE name = :name AND holder = :holder AND epoch = :epoch")
_READ = text("SELECT name, holder, epoch, coalesce(expires_at > clock_timestamp(), false), "
             "coalesce(extract(epoch from expires_at - clock_timestamp()), 0) "
             "FROM fleet_leases WHERE name LIKE :prefix ORDER BY name")
_FENCE = text("SELECT 1 FROM fleet_leases WHERE name = :lease_name AND holder = :lease_holder "
              "AND epoch = :lease_epoch AND expires_at > clock_timestamp() FOR SHARE")


def ensure(conn: Connection, names: Iterable[str]) -> None:
    """Create the lease rows (unheld) that do not exist yet."""
    rows = [{"name": name} for name in names]
    if rows:
        conn.execute(_ENSURE, rows)


def acquire(conn: Connection, name: str, holder: str, ttl: float) -> int | None:
    """Take a free or expired lease: its new epoch, or None when someone else holds it. Waits at most a
    quarter of ``ttl`` for a write in flight under the old epoch (``LockNotAvailable`` after that: a
    stalled writer's lock is ended by the server, so the next round can take it)."""
    conn.execute(text(f"SET LOCAL lock_timeout = {max(100, int(ttl * 250))}"))
    epoch = conn.execute(_ACQUIRE, {"name": name, "holder": holder, "ttl": float(ttl)}).scalar()
    return None if epoch is None else int(epoch)


def renew(conn: Connection, name: str, holder: str, epoch: int, ttl: float) -> bool:
    """Extend a lease still held (by the database's clock); False when it expired or moved on."""
    return conn.execute(_RENEW, {"name": name, "holder": holder, "epoch": epoch, "ttl": float(ttl)}).scalar() is not None


def release(conn: Connection, name: str, holder: str, epoch: int) -> None:
    """Give a lease up at once (drain, rebalance); the next holder's epoch is higher still."""
    conn.execute(_RELEASE, {"name": name, "holder": holder, "epoch": epoch})


def read(conn: Connection, prefix: str = "") -> list[Lease]:
    """Every lease whose name starts with ``prefix``."""
    return [Lease(str(n), h, int(e), bool(v), float(s or 0.0))
            for n, h, e, v, s in conn.execute(_READ, {"prefix": prefix + "%"})]


def fence_check(conn: Connection, fence: tuple[str, str, int]) -> None:
    """Raise ``Fenced`` unless ``fence`` = (lease, holder, epoch) is still valid; the row stays locked
    (``FOR SHARE``) to the end of the caller's transaction, so no takeover commits in between."""
    name, holder, epoch = fence
    if conn.execute(_FENCE, {"lease_name": name, "lease_holder": holder, "lease_epoch": epoch}).first() is None:
        raise Fenced(f"lease {name} epoch {epoch} is no longer held by {holder}")
