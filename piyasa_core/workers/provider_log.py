"""What the providers screen adds to each provider's view: our configured budgets, and the newest
error class with its time (seen as a rise of a class's count in a worker's metrics)."""

from __future__ import annotations

import dataclasses

from piyasa_core.config import Config
from piyasa_core.engine.events import EngineMetrics
from piyasa_core.workers.snapshot import ProviderView

BUDGETS = ("rpm", "tpm", "rpd", "tpd")


class ProviderErrors:
    """The newest error per provider across workers (the supervisor calls it under its lock)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, str], dict[str, int]] = {}
        self.last: dict[str, tuple[str, float]] = {}  # provider → (error class, simulated time)

    def note(self, metrics: EngineMetrics) -> None:
        """Compare a worker's per-class counts with its previous report (a restart starts them at 0)."""
        for status in metrics.providers:
            key = (metrics.worker_id, status.name)
            before = self._seen.get(key, {})
            if any(status.errors.get(k, 0) < n for k, n in before.items()):
                before = {}  # the worker restarted
            rose = [k for k, n in status.errors.items() if n > before.get(k, 0)]
            if rose:
                self.last[status.name] = (max(rose, key=lambda k: status.errors[k] - before.get(k, 0)), metrics.at)
            self._seen[key] = dict(status.errors)

    def decorate(self, views: tuple[ProviderView, ...], config: Config) -> tuple[ProviderView, ...]:
        """The views with budgets and the newest error filled in."""
        providers = config.settings.llm.providers
        out = []
        for view in views:
            cfg = providers.get(view.name)
            budgets = {k: int(getattr(cfg, k, 0) or 0) for k in BUDGETS} if cfg is not None else {}
            error, at = self.last.get(view.name, ("", None))
            out.append(dataclasses.replace(view, budgets=budgets, last_error=error, last_error_at=at))
        return tuple(out)
