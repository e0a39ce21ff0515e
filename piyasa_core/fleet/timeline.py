"""One simulated timeline for every host of a fleet.

A supervisor's simulated clock starts at `[engine] start_at` (or the wall clock) when it starts, at
`time_scale`. Alone that is right; in a fleet it is not: a host restarted an hour after the others
would begin the day again while they are at its end, and a question stored on one host's clock is
out of another's reach (active hours, pacing, the reply jobs a takeover recovers). So the first host
of a fleet anchors the timeline in the database (the ``settings`` row ``fleet.timeline``: simulated
start, scale, and the database clock's moment of it), and every host that joins while another is live
continues it. When no other host is live the timeline is anchored again, from this host's settings.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

KEY = "fleet.timeline"
_LOCK = 0x70_69_79_61_74_6C  # pg_advisory_xact_lock key: one host at a time reads or anchors it

_NOW = text("SELECT extract(epoch from clock_timestamp())")
_OTHERS_LIVE = text("SELECT count(*) FROM fleet_hosts WHERE host_id <> :host_id "
                    "AND heartbeat_at > clock_timestamp() - make_interval(secs => :ttl)")
_READ = text("SELECT text_value FROM settings WHERE key = :key")
_WRITE = text("INSERT INTO settings (key, kind, text_value, updated_at) VALUES (:key, 'str', :value, clock_timestamp()) "
              "ON CONFLICT (key) DO UPDATE SET kind = 'str', text_value = excluded.text_value, "
              "updated_at = excluded.updated_at")


@dataclass(frozen=True)
class Timeline:
    """Where this host's simulated clock starts: ``sim_now`` now, at ``time_scale``; ``joined`` when it
    continues a timeline other live hosts run on (else this host anchored it)."""

    sim_now: float
    time_scale: float
    joined: bool


def shared_timeline(engine: Engine, *, host_id: str, sim_start: float, time_scale: float, ttl: float) -> Timeline:
    """This host's place on the fleet's timeline (PostgreSQL; see the module's docstring)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        now = float(conn.execute(_NOW).scalar_one())
        others = int(conn.execute(_OTHERS_LIVE, {"host_id": host_id, "ttl": float(ttl)}).scalar_one())
        stored = conn.execute(_READ, {"key": KEY}).scalar()
        if others and stored:
            line = json.loads(stored)
            scale = float(line["time_scale"])
            if scale != time_scale:
                log.warning("fleet %s: time_scale %g differs from the fleet's %g; this host follows the fleet's",
                            host_id, time_scale, scale)
            return Timeline(float(line["sim_start"]) + (now - float(line["anchored_at"])) * scale, scale, True)
        conn.execute(_WRITE, {"key": KEY, "value": json.dumps(
            {"sim_start": sim_start, "time_scale": time_scale, "anchored_at": now, "by": host_id})})
        return Timeline(sim_start, time_scale, False)
