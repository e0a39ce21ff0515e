"""The core engine each worker runs for its share of bots."""
