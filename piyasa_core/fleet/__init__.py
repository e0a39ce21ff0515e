"""Fleet mode: several supervisors (hosts) on one PostgreSQL database, shards held by fenced leases."""

from piyasa_core.fleet.share import FleetShare

__all__ = ["FleetShare"]
