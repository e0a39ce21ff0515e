"""Records that travel between the supervisor and the workers (small, frozen, picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from piyasa_core.engine.types import ReplyJob


# ── supervisor → worker ────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class SwitchProvider:
    name: str


@dataclass(frozen=True)
class SetRunning:
    running: bool


@dataclass(frozen=True)
class Drain:
    """Finish the message in flight, then exit."""


@dataclass(frozen=True)
class SubmitJob:
    job: ReplyJob


@dataclass(frozen=True)
class SetBotEnabled:
    """The operator turned a bot on or off (already written to the database, which the worker re-reads)."""

    bot_id: int
    enabled: bool


@dataclass(frozen=True)
class SetShards:
    """Fleet mode: the shards this worker runs now, each with its lease's epoch (the fencing token)."""

    epochs: dict[int, int]


Command = SwitchProvider | SetRunning | Drain | SubmitJob | SetBotEnabled | SetShards


# ── worker → supervisor ────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class WorkerStarted:
    worker_id: int
    pid: int
    generation: int
    bots: tuple[int, ...]
    bot_names: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Heartbeat:
    worker_id: int
    pid: int
    generation: int
    at: float


@dataclass(frozen=True)
class WorkerLog:
    worker_id: int
    pid: int
    level: str
    text: str
    at: float


@dataclass(frozen=True)
class CommandApplied:
    """A worker applied a command (the supervisor measures how fast a switch reaches everyone)."""

    worker_id: int
    command: str
    value: str
    at: float


@dataclass(frozen=True)
class WorkerStopped:
    worker_id: int
    pid: int
    generation: int
    reason: str


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs; the environment is the snapshot taken at (re)start."""

    worker_id: int
    total: int
    generation: int
    config_path: str
    env_path: str | None
    overrides: dict[tuple[Any, ...], Any]
    environ: dict[str, str]
    log_path: str
    parent_pid: int
    time_scale: float | None = None
    sim_start: float | None = None
    sim_anchor: float | None = None  # time.monotonic() at sim_start (shared timeline across restarts)
    after_crash: bool = False  # restarted after a crash: speak at once instead of staggering
    run_id: str | None = None  # a benchmark run's id: the worker talks only in that run's chats
    fleet_host: str | None = None  # fleet mode: the host's id (the lease holder its writes are fenced by)
    shard_epochs: dict[int, int] | None = None  # fleet mode: the shards it starts with (shard → epoch)
