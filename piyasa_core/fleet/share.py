"""What one worker of a fleet host holds: its shards and the lease epoch it writes each under."""

from __future__ import annotations

from dataclasses import dataclass, field

from piyasa_core.engine.sharding import fleet_shard
from piyasa_core.fleet.leases import shard_lease


@dataclass
class FleetShare:
    """A worker's part of the fleet: ``epochs`` maps each shard it runs to its lease's epoch (the
    fencing token its outbox writes carry); the host's agent replaces it as leases move."""

    host: str
    shards: int
    epochs: dict[int, int] = field(default_factory=dict)

    def shard_of(self, bot_id: int) -> int:
        return fleet_shard(bot_id, self.shards)

    def holds(self, bot_id: int) -> bool:
        """This worker runs the bot's shard under a lease it was given."""
        return self.shard_of(bot_id) in self.epochs

    def fence(self, bot_id: int) -> tuple[str, str, int] | None:
        """(lease, holder, epoch) the bot's outbox writes are checked against; None: no longer held."""
        shard = self.shard_of(bot_id)
        epoch = self.epochs.get(shard)
        return None if epoch is None else (shard_lease(shard), self.host, epoch)
