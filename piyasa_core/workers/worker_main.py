"""The worker process: one engine for its share of bots, heartbeats and events out, commands in."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from piyasa_core.workers.messages import (
    CommandApplied,
    Drain,
    Heartbeat,
    SetBotEnabled,
    SetShards,
    SetRunning,
    SubmitJob,
    SwitchProvider,
    WorkerLog,
    WorkerSpec,
    WorkerStarted,
    WorkerStopped,
)

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """Exit when the supervisor dies, even by ``kill -9``: the kernel's parent-death signal where
    available, plus a watchdog thread that checks the parent pid once a second."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _redirect_output(log_path: str) -> None:
    """Nothing a worker prints may draw over a terminal UI: stdout/stderr go to its log file."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


class _EventLogHandler(logging.Handler):
    """Warnings and errors also go to the supervisor (already redacted by the filter)."""

    def __init__(self, spec: WorkerSpec, events: Any) -> None:
        super().__init__(logging.WARNING)
        self.spec = spec
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage().splitlines()[0][:300]
            self.events.put(WorkerLog(self.spec.worker_id, os.getpid(), record.levelname, text, time.time()))
        except Exception:  # noqa: BLE001 - logging must never raise
            pass


def _setup_logging(spec: WorkerSpec, events: Any) -> None:
    from piyasa_core.secrets import install_log_redaction

    root = logging.getLogger()
    root.handlers[:] = []
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(f"%(asctime)s w{spec.worker_id} %(levelname)s %(name)s: %(message)s"))
    root.addHandler(stream)
    root.addHandler(_EventLogHandler(spec, events))
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    install_log_redaction(root)


def worker_main(spec: WorkerSpec, events: Any, commands: Any) -> None:
    """Entry point of a worker process (spawned; runs until drained, signalled or orphaned)."""
    _die_with_parent(spec.parent_pid)
    os.environ.update(spec.environ)  # set first, then drop the rest: never a moment with an empty environment
    for name in [n for n in os.environ if n not in spec.environ]:
        del os.environ[name]
    _redirect_output(spec.log_path)
    _setup_logging(spec, events)
    try:
        asyncio.run(_run(spec, events, commands))
    except Exception as exc:  # noqa: BLE001 - reported, then the exit code tells the supervisor
        from piyasa_core.secrets import redact

        logging.getLogger(__name__).exception("worker %d crashed", spec.worker_id)
        events.put(WorkerStopped(spec.worker_id, os.getpid(), spec.generation, f"crashed: {redact(str(exc))[:200]}"))
        sys.exit(1)


async def _run(spec: WorkerSpec, events: Any, commands: Any) -> None:
    from piyasa_core.config import load_config
    from piyasa_core.engine.clock import SimClock
    from piyasa_core.engine.factory import build_engine
    from piyasa_core.store import open_store

    config = load_config(spec.config_path, spec.env_path, overrides=spec.overrides, environ=spec.environ,
                         env_path_explicit=spec.env_path is not None)
    store = open_store(config)
    scale = spec.time_scale or config.settings.engine.time_scale
    emit = events.put
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from piyasa_core.metrics import get_metrics
        from piyasa_core.workers.recorder import WorkerRecorder

        recorder = WorkerRecorder(get_metrics(), spec.worker_id)

        def emit(event: Any) -> None:  # noqa: F811 - the recording variant
            events.put(event)
            recorder.record(event)

    fleet = None
    if spec.fleet_host is not None:
        from piyasa_core.fleet.share import FleetShare

        fleet = FleetShare(spec.fleet_host, config.settings.fleet.shards, dict(spec.shard_epochs or {}))
    engine = build_engine(config, store, worker_id=spec.worker_id, total=spec.total, emit=emit,
                          clock=SimClock(scale, spec.sim_start, spec.sim_anchor), stagger=not spec.after_crash,
                          run_id=spec.run_id, fleet=fleet)
    await engine.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    pending: set[asyncio.Task[None]] = set()

    async def reload_bots(command: SetBotEnabled) -> None:
        try:
            await engine.reload_bots()
        except Exception:  # noqa: BLE001 - reported; the worker keeps its bots as they were
            logging.getLogger(__name__).exception("worker %d could not apply %s", spec.worker_id, command)
            return
        events.put(CommandApplied(spec.worker_id, "bot", f"{command.bot_id}:{command.enabled}", time.time()))

    async def set_shards(command: SetShards) -> None:
        try:
            await engine.set_shards(command.epochs)
        except Exception:  # noqa: BLE001 - reported; fencing keeps a stale shard from writing
            logging.getLogger(__name__).exception("worker %d could not apply %s", spec.worker_id, command)
            return
        events.put(CommandApplied(spec.worker_id, "shards", ",".join(map(str, sorted(command.epochs))), time.time()))

    def on_command(command: Any) -> None:
        if isinstance(command, SetBotEnabled):
            task = asyncio.ensure_future(reload_bots(command))
            pending.add(task)
            task.add_done_callback(pending.discard)
        elif isinstance(command, SetShards):
            task = asyncio.ensure_future(set_shards(command))
            pending.add(task)
            task.add_done_callback(pending.discard)
        elif isinstance(command, SwitchProvider):
            engine.router.switch(command.name)
            events.put(CommandApplied(spec.worker_id, "provider", command.name, time.time()))
        elif isinstance(command, SetRunning):
            engine.resume() if command.running else engine.pause()
            events.put(CommandApplied(spec.worker_id, "running", str(command.running), time.time()))
        elif isinstance(command, SubmitJob):
            engine.submit_reply_job(command.job)
        elif isinstance(command, Drain):
            stop.set()

    def read_commands() -> None:
        while True:
            try:
                command = commands.get()
            except (EOFError, OSError):
                return
            loop.call_soon_threadsafe(on_command, command)
            if isinstance(command, Drain):
                return

    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    events.put(WorkerStarted(spec.worker_id, os.getpid(), spec.generation, tuple(sorted(engine.bots)),
                             {b.id: b.name for b in engine.bots.values()}))

    async def heartbeat() -> None:
        while not stop.is_set():
            events.put(Heartbeat(spec.worker_id, os.getpid(), spec.generation, time.time()))
            await asyncio.sleep(config.settings.supervisor.heartbeat_interval)

    beat = asyncio.create_task(heartbeat())
    try:
        await engine.run(stop)
    finally:
        beat.cancel()
        await engine.transport.aclose()
        await engine.router.aclose()
        await engine.cache.aclose()
        store.dispose()
        events.put(WorkerStopped(spec.worker_id, os.getpid(), spec.generation, "drained"))
