"""What a restart that re-reads config.toml, `.env` and the environment can apply, and what it cannot.

Restarting the workers applies every setting a worker reads at start, the simulated clock's time scale
and start (the supervisor re-anchors its clock) and the active provider. A few settings belong to the
supervisor itself, which keeps running: the worker count, the control API's address and token, the
database and data directory every process must share, and the Telegram update receiver's settings.
Those are *held*: the workers are started with the old values, so that what the operator is told is
what runs, and the restart says why each one waits for a restart of piyasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from piyasa_core.config import Config
from piyasa_core.config.loader import Change
from piyasa_core.config.sources import Path_, env_path_for

__all__ = ["HELD", "ReloadPlan", "plan_reload"]

HELD: tuple[tuple[str, str], ...] = (
    ("supervisor.workers", "the worker count is fixed while piyasa runs"),
    ("control.", "the control API keeps its address and token while piyasa runs"),
    ("database.", "the supervisor and every worker must share one database"),
    ("paths.data_dir", "the database, logs and reports stay where piyasa started them"),
    ("telegram.mode", "the update receiver runs in the supervisor and keeps its settings"),
    ("telegram.poll_timeout", "the update receiver runs in the supervisor and keeps its settings"),
    ("telegram.webhook_", "the update receiver runs in the supervisor and keeps its settings"),
    ("telegram.api_base_url", "the update receiver runs in the supervisor and keeps its settings"),
    ("fleet.", "a host's lease agent, shards and fencing are fixed while it runs (change [fleet] on a stopped host)"),
)
"""Settings (dotted prefixes) a worker restart cannot apply, with the reason shown to the operator."""


@dataclass(frozen=True)
class ReloadPlan:
    """A reload's outcome: the fresh config, the changes it applies, those it holds (with why), and the
    overrides that keep the held settings at their old values in the workers."""

    fresh: Config
    applied: tuple[Change, ...]
    held: tuple[tuple[Change, str], ...]
    overrides: dict[Path_, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """What the control API and the TUI show (values already masked)."""
        return {"changes": [str(c) for c in self.applied],
                "held": [f"{c} — not applied: {why}; restart piyasa to apply it" for c, why in self.held]}


def _held_reason(path: str) -> str | None:
    return next((why for prefix, why in HELD if path == prefix or (prefix.endswith((".", "_")) and
                                                                  path.startswith(prefix))), None)


def _value(config: Config, path: Path_) -> Any:
    node: Any = config.settings
    for part in path:
        node = node[part] if isinstance(node, (list, dict)) else getattr(node, str(part))
    return node


def plan_reload(current: Config, fresh: Config, changes: list[Change]) -> ReloadPlan:
    """Split ``changes`` (``Config.reload``'s diff) into applied and held ones."""
    applied: list[Change] = []
    held: list[tuple[Change, str]] = []
    overrides: dict[Path_, Any] = {}
    for change in changes:
        env_path = env_path_for(change.key)
        path = tuple(change.key.split(".")) if env_path is None and "." in change.key else env_path
        why = _held_reason(".".join(str(p) for p in path)) if path else None
        if why is None:
            applied.append(change)
            continue
        held.append((change, why))
        try:
            overrides[path] = _value(current, path)  # type: ignore[index]
        except (AttributeError, KeyError, IndexError, TypeError):
            pass  # an environment variable without a settings twin: nothing to pin
    return ReloadPlan(fresh, tuple(applied), tuple(held), overrides)
