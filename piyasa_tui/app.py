"""The Textual control centre: renders the supervisor's immutable snapshots, sends operator actions.

Data flows one way: a 10 Hz timer calls ``source.snapshot()`` (an in-memory copy, the only call on
the UI thread), wraps it in a :class:`~piyasa_tui.widgets.common.Frame` and applies it to the
dashboard inside ``batch_update()``; the widgets keep it in reactive attributes and redraw what
changed. Operator actions run as Textual workers; every worker error reaches the operator through
one handler (``on_worker_state_changed``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from piyasa_core.secrets import redact
from piyasa_core.workers.snapshot import Snapshot
from piyasa_tui.screens.benchmark import BenchmarkScreen, BenchmarkStartScreen, is_active
from piyasa_tui.screens.dashboard import KEYS, DashboardScreen
from piyasa_tui.screens.help import HelpScreen
from piyasa_tui.screens.operator import OperatorScreen
from piyasa_tui.screens.modals import (
    ConfirmScreen,
    MessageScreen,
    PostScreen,
    ProviderPicker,
)
from piyasa_tui.fleet import NOT_FLEET, FleetSummary, read_fleet
from piyasa_tui.source import Link, Linked, SnapshotSource
from piyasa_tui.widgets.common import ISTANBUL, Frame, zone
from piyasa_tui.widgets.feed import FEED_LIMIT

log = logging.getLogger(__name__)

SEVERITY: dict[str, SeverityLevel] = {"error": "error", "critical": "error", "warning": "warning", "warn": "warning"}
EXPECTED_ERRORS = (ValueError, LookupError, PermissionError, ConnectionError, TimeoutError)
CANNOT_WORK = {"not_configured": "no API key is set", "auth_error": "its key was refused",
               "model_missing": "its model does not exist", "exhausted": "its daily quota is spent",
               "down": "it is failing"}
"""Provider states a switch asks about first (the picker says why)."""
BENCH_DEFAULT_DURATION, BENCH_DEFAULT_SCALE = "10m", 60.0  # the start dialog's values: 10 simulated min in 10 s


class PiyasaApp(App[None]):
    """`PiyasaApp(source)`; `clock`/`tz` fix the time shown (tests), `source_loop` names the event loop
    the source's coroutines must run in when it is not the app's own (a supervisor in another thread)."""

    CSS_PATH = "app.tcss"
    TITLE = "piyasa"

    def __init__(self, source: SnapshotSource, *, clock: Callable[[], float] = time.time, tz: str = ISTANBUL,
                 refresh_hz: float = 10.0, source_loop: asyncio.AbstractEventLoop | None = None,
                 cursor_blink: bool = True, feed_limit: int = FEED_LIMIT, notices_per_refresh: int = 5,
                 screenshot_dir: Path | None = None) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.tz = zone(tz)
        self.refresh_interval = 1.0 / min(max(refresh_hz, 0.1), 10.0)  # at most 10 Hz
        self.source_loop = source_loop
        self.cursor_blink = cursor_blink
        self.feed_limit = feed_limit
        self.notices_per_refresh = notices_per_refresh
        self.last_snapshot: Snapshot | None = None
        self.notifications_log: deque[tuple[str, str, str]] = deque(maxlen=200)  # (severity, title, message)
        self.notification_times: deque[float] = deque(maxlen=200)  # when each was logged (the app's clock)
        self.screenshot_dir = Path(screenshot_dir or Path("data") / "screenshots")
        self.refresh_count = 0
        self._pending_running: bool | None = None
        self._refreshing = False
        self._last_notice: tuple[Any, ...] | None = None
        self._source_error = ""
        self._timer: Timer | None = None
        self._post_chat: str | None = None
        self._post_name = "Operatör"
        self._link_up: bool | None = None  # attached: the connection as last told (toasts on a change)

    # ── screens ────────────────────────────────────────────────────────────────────────────────
    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(feed_limit=self.feed_limit, cursor_blink=self.cursor_blink)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    def on_mount(self) -> None:
        self.refresh_snapshot()
        self._timer = self.set_interval(self.refresh_interval, self.refresh_snapshot, name="snapshot")

    # ── the data path ──────────────────────────────────────────────────────────────────────────
    def refresh_snapshot(self) -> None:
        """Take the source's snapshot and apply it (never overlapping: a busy tick is skipped)."""
        if self._refreshing or not self.screen_stack:  # not yet, or no longer, showing the dashboard
            return
        self._refreshing = True
        try:
            try:
                snapshot = self.source.snapshot()
            except Exception as exc:  # noqa: BLE001 - shown once, the next tick tries again
                self._source_failed(exc)
                return
            if self._source_error:
                self._source_error = ""
                self.notify("Receiving snapshots again.", title="Source", severity="information")
            self._apply(snapshot)
        finally:
            self._refreshing = False

    def _apply(self, snapshot: Snapshot) -> None:
        if self._pending_running is not None and snapshot.running == self._pending_running:
            self._pending_running = None  # the supervisor caught up with the operator
        self.last_snapshot = snapshot
        self.refresh_count += 1
        running = snapshot.running if self._pending_running is None else self._pending_running
        link = self.source.link() if isinstance(self.source, Linked) else None
        frame = Frame(snapshot, self.clock(), running, self.tz, link)
        self._tell_link(link)
        with self.batch_update():
            self.dashboard.frame = frame
            for screen in self.screen_stack[1:]:  # an operator screen under a dialog stays current too
                if isinstance(screen, OperatorScreen):
                    screen.frame = frame
            if isinstance(self.screen, BenchmarkScreen) and snapshot.benchmark is not None:
                self.screen.bench = snapshot.benchmark
            self._show_notices(snapshot.notices)

    def _tell_link(self, link: Link | None) -> None:
        """A toast when an attached TUI loses or regains its server (the header says it all the time)."""
        if link is None or link.connected == self._link_up:
            return
        first, self._link_up = self._link_up is None, link.connected
        if not link.connected:
            self.notify(f"Lost {link.url}: {link.error or 'no answer'}; the last known state is greyed. "
                        + ("Retrying." if link.retry_at is not None else "Not retrying: attach again."),
                        title="Disconnected", severity="error", timeout=10, markup=False)
        elif not first:
            self.notify(f"Attached to {link.url} again; the data is live.", title="Reconnected", markup=False)

    async def message_detail(self, message_id: int) -> dict[str, Any]:
        """Everything stored about one message, from the source (the message detail screen)."""
        return await self._call(self.source.message_detail, message_id)

    def _reapply(self) -> None:
        if self.last_snapshot is not None:
            self._apply(self.last_snapshot)

    def _source_failed(self, exc: Exception) -> None:
        message = redact(f"{type(exc).__name__}: {exc}")
        if message != self._source_error:
            self._source_error = message
            log.warning("snapshot failed: %s", message)
            self.notify(message, title="No snapshot", severity="error", markup=False)

    def _show_notices(self, notices: tuple[tuple[float, str, str], ...]) -> None:
        """Notices added since the last refresh become notifications (a flood is summarised)."""
        if not notices:
            if self._last_notice is None:
                self._last_notice = ()  # started with none: every later notice is new, infos too
            return
        first = self._last_notice is None
        start = 0
        if not first:
            for index in range(len(notices) - 1, -1, -1):
                if tuple(notices[index]) == self._last_notice:
                    start = index + 1
                    break
        self._last_notice = tuple(notices[-1])
        new = list(notices[start:])
        if first:  # what happened before the app started: only the problems
            new = [n for n in new if SEVERITY.get(str(n[1]).lower()) is not None]
        if not new:
            return
        limit = max(1, self.notices_per_refresh)
        if len(new) > limit:
            skipped = len(new) - (limit - 1)
            new = new[-(limit - 1):] if limit > 1 else []
            self.notify(f"{skipped} more notices (P lists them all)", title="Notices", severity="information")
        for _at, level, text in new:
            severity = SEVERITY.get(str(level).lower(), "information")
            self.notify(redact(str(text)), title=str(level), severity=severity,
                        timeout=10 if severity == "error" else None, markup=False)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        self.notifications_log.append((severity, title, str(message)))
        self.notification_times.append(self.clock())
        hold = getattr(self.screen, "hold_toast", None) if self.screen_stack else None
        if hold is not None and hold(severity, title, str(message)):  # a screen toasts must not cover
            return
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _effective_running(self) -> bool:
        if self._pending_running is not None:
            return self._pending_running
        return self.last_snapshot.running if self.last_snapshot is not None else True

    async def _call(self, method: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Await a source coroutine, in the source's own loop when it has one."""
        coro = method(*args)
        loop = self.source_loop
        if loop is None or loop is asyncio.get_running_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))  # type: ignore[arg-type]

    # ── the one error path ─────────────────────────────────────────────────────────────────────
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        worker, error = event.worker, event.worker.error
        if worker.group == "simulation":
            self._pending_running = None
            self._reapply()
        what = worker.name or "action"
        text = redact(str(error) or type(error).__name__)
        if isinstance(error, NotImplementedError):
            subject = "The benchmark" if worker.group == "benchmark" else what.capitalize()
            self.notify(f"{subject} is not available yet: {text}", title="Not available yet",
                        severity="warning", timeout=10, markup=False)
        elif isinstance(error, EXPECTED_ERRORS) or type(error).__name__ == "ControlError":
            self.notify(text, title=f"{what} failed", severity="error", timeout=10, markup=False)
        else:
            log.error("%s failed", what, exc_info=error)
            self.push_screen(MessageScreen(f"{what} failed", [f"{type(error).__name__}: {text}"], error=True))

    # ── actions (the keys; see KEYS) ───────────────────────────────────────────────────────────
    @work(exclusive=True, group="provider", exit_on_error=False, name="switch provider")
    async def action_switch_provider(self) -> None:
        snapshot = self.last_snapshot
        if snapshot is None or not snapshot.providers:
            self.notify("No providers known yet.", title="Provider", severity="warning")
            return
        name = await self.push_screen_wait(ProviderPicker(snapshot.providers))
        if not name:
            return
        view = next((p for p in snapshot.providers if p.name == name), None)
        if view is not None and view.state in CANNOT_WORK:
            why = f"{name} cannot work now: {CANNOT_WORK[view.state]}" + (f" ({redact(view.reason)})" if view.reason else "")
            confirmed = await self.push_screen_wait(ConfirmScreen(
                f"Switch to {name}?", f"{why}.\nEvery request would go to the fallback chain, or wait, until it "
                "works.", "Switch anyway"))
            if not confirmed:
                return
        result = await self._call(self.source.switch_provider, name)
        reached = result.get("workers") if isinstance(result, dict) else None
        suffix = f" ({len(reached)} workers told)" if isinstance(reached, list) and reached else ""
        self.notify(f"Active provider → {name}{suffix}", title="Provider", markup=False)

    @work(group="restart", exit_on_error=False, name="restart all workers")
    async def action_restart_all(self) -> None:
        if self._restart_in_progress():
            return
        preview = await self._call(self.source.preview_restart)
        if not preview.get("ok"):
            self.push_screen(MessageScreen("Restart refused — the workers keep running",
                                           ["The configuration is invalid:", "", redact(str(preview.get("error")))],
                                           error=True))
            return
        confirmed = await self.push_screen_wait(ConfirmScreen(
            "Restart all workers", restart_summary(preview), "Restart"))
        if not confirmed:
            return
        self.notify("Restarting all workers…", title="Restart")
        result = await self._call(self.source.restart_workers, None)
        self._show_restart(result, None)

    @work(group="restart", exit_on_error=False, name="restart worker")
    async def action_restart_selected(self) -> None:
        if self._restart_in_progress():
            return
        worker_id = self.dashboard.workers_table.selected_worker
        if worker_id is None:
            self.notify("No worker selected.", title="Restart", severity="warning")
            return
        self.notify(f"Restarting worker {worker_id}…", title="Restart")
        result = await self._call(self.source.restart_workers, worker_id)
        self._show_restart(result, worker_id)

    def _restart_in_progress(self) -> bool:
        current = get_current_worker()
        busy = any(w is not current and w.group == "restart" and w.is_running for w in self.workers)
        if busy:
            self.notify("A restart is already in progress.", title="Restart", severity="warning")
        return busy

    def _show_restart(self, result: dict[str, Any], worker_id: int | None) -> None:
        which = "all workers" if worker_id is None else f"worker {worker_id}"
        changes = [redact(str(c)) for c in result.get("changes") or []]
        if not result.get("ok"):
            error = redact(str(result.get("error") or "unknown error"))
            self.push_screen(MessageScreen(f"Restart refused — {which} keep running",
                                           ["The configuration is invalid:", "", error], error=True))
            return
        lines = ["Changed settings (secrets masked):", *(f"  • {c}" for c in changes)] if changes \
            else ["No configuration changes."]
        held = [redact(str(h)) for h in result.get("held") or []]
        if held:
            lines += ["", "Not applied (secrets masked):", *(f"  • {h}" for h in held)]
        if worker_id is None:
            self.push_screen(MessageScreen(f"Restarted {which}", lines))
        else:
            self.notify("\n".join(lines), title=f"Restarted {which}", markup=False)

    @work(exclusive=True, group="benchmark", exit_on_error=False, name="benchmark")
    async def action_benchmark(self) -> None:
        """Start a run (duration and time scale asked first), or show the one running."""
        bench = self.last_snapshot.benchmark if self.last_snapshot is not None else None
        if not is_active(bench):
            options = await self.push_screen_wait(BenchmarkStartScreen(
                BENCH_DEFAULT_DURATION, BENCH_DEFAULT_SCALE, cursor_blink=self.cursor_blink))
            if options is None:
                return
            result = await self._call(self.source.benchmark, "start", {**options, "trigger": "tui"})
            started = f"run {result.get('id', '?')}: about {result.get('real_seconds', '?')} s; reports in " \
                      f"{result.get('out_dir', '?')}"
            bench = {"id": result.get("id"), "state": "starting", "duration_s": result.get("duration_s"),
                     "time_scale": result.get("time_scale"), "progress": 0.0, "criteria": []}
        else:
            started = ""
        if not isinstance(self.screen, BenchmarkScreen):
            await self.push_screen(BenchmarkScreen(bench))
        if started:  # logged; the view it would cover shows the run
            self.notify(started, title="Benchmark started", markup=False)

    @work(exclusive=True, group="benchmark-cancel", exit_on_error=False, name="cancel the benchmark")
    async def action_cancel_benchmark(self) -> None:
        result = await self._call(self.source.benchmark, "cancel", {})
        self.notify(f"run {result.get('id', '?')} is stopping; a partial report is written",
                    title="Benchmark cancelled", markup=False)

    @work(exclusive=True, group="simulation", exit_on_error=False, name="pause/resume")
    async def action_toggle_simulation(self) -> None:
        target = not self._effective_running()
        self._pending_running = target
        self._reapply()
        await self._call(self.source.set_simulation, target)  # the header shows it; the supervisor notices it

    def action_filter_feed(self) -> None:
        self.dashboard.open_filter()

    def action_toggle_follow(self) -> None:
        self.dashboard.feed_log.action_toggle_follow()

    def action_toggle_wrap(self) -> None:
        self.dashboard.feed_log.toggle_wrap()

    @work(group="post", exit_on_error=False, name="post as a human")
    async def action_post_human(self) -> None:
        snapshot = self.last_snapshot
        chats = snapshot.chats if snapshot is not None else ()
        if not chats:
            self.notify("No chats known yet.", title="Post", severity="warning")
            return
        values = await self.push_screen_wait(PostScreen(chats, chat=self._post_chat, name=self._post_name,
                                                        cursor_blink=self.cursor_blink))
        if values is None:
            return
        chat, text, name = values
        self._post_chat, self._post_name = chat, name
        result = await self._call(self.source.post_human, chat, text, name)
        self.notify(self._answering(result, chat, name), title="Posted", markup=False)

    def _answering(self, result: dict[str, Any], chat: str, name: str) -> str:
        names: dict[int, str] = {}
        for w in self.last_snapshot.workers if self.last_snapshot is not None else ():
            names.update(zip(w.bots, w.bot_names))
        answering = [names.get(int(b), f"bot {b}") for b in result.get("answering") or []]
        head = f"{name} → {chat} (message #{result.get('message_id', '?')})."
        if answering:
            return f"{head} Answering: {', '.join(answering)}."
        return f"{head} No bot was mentioned or replied to, so none is asked to answer."

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(fleet=self._fleet() is not None))

    def _fleet(self) -> FleetSummary | None:
        """The fleet as the newest snapshot shows it (None when not in fleet mode)."""
        return read_fleet(self.last_snapshot.fleet) if self.last_snapshot is not None else None

    def action_fleet(self) -> None:
        from piyasa_tui.screens.fleet import FleetScreen

        if self._fleet() is None:
            self.notify(f"This host is {NOT_FLEET}.", title="Fleet", severity="warning", markup=False)
            return
        self._open(FleetScreen)

    @work(exclusive=True, group="drain", exit_on_error=False, name="drain this host")
    async def action_drain_host(self) -> None:
        """Fleet mode: after a confirmation, this host hands its shards over to the others, then stops."""
        fleet = self._fleet()
        if fleet is None:
            self.notify(f"Nothing to drain: this host is {NOT_FLEET}.", title="Drain", severity="warning",
                        markup=False)
            return
        if fleet.draining:
            self.notify(f"{fleet.host_id} is already draining.", title="Drain", severity="warning", markup=False)
            return
        if not await self.push_screen_wait(ConfirmScreen(f"Drain host {fleet.host_id}", drain_summary(fleet), "Drain")):
            return
        result = await self._call(self.source.drain_host)
        host, held = result.get("host", fleet.host_id), result.get("shards", fleet.held_by(fleet.host_id))
        self.notify(f"{host} is draining: {held} shard(s) to hand over; it stops by itself when they are.",
                    title="Drain", severity="warning", markup=False)

    def _open(self, kind: type[OperatorScreen]) -> None:
        if not isinstance(self.screen, kind):
            self.push_screen(kind(self.dashboard.frame))

    def action_bots(self) -> None:
        from piyasa_tui.screens.bots import BotsScreen

        self._open(BotsScreen)

    def action_providers(self) -> None:
        from piyasa_tui.screens.providers import ProvidersScreen

        self._open(ProvidersScreen)

    def action_bench_runs(self) -> None:
        from piyasa_tui.screens.runs import RunsScreen

        self._open(RunsScreen)

    def action_save_screenshot(self) -> None:
        """An SVG of the screen in the data directory's `screenshots/` (created when needed); says where."""
        folder = self.screenshot_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = Path(self.save_screenshot(path=str(folder))).resolve()
        except OSError as exc:
            self.notify(f"could not save it in {folder}: {exc.strerror or exc}", title="Screenshot",
                        severity="error", markup=False)
            return
        self.notify(f"saved {path}", title="Screenshot", markup=False)

    # ── command palette ────────────────────────────────────────────────────────────────────────
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        fleet = self._fleet() is not None
        for key in KEYS:
            if key.action != "quit" and (fleet or not key.fleet):
                yield SystemCommand(f"{key.title} ({key.shown})", key.help, getattr(self, f"action_{key.action}"))
        if fleet:
            yield SystemCommand("Drain this host", "Fleet mode: hand this host's shards over to the other hosts, "
                                "then stop it (asks first; d on the fleet screen)", self.action_drain_host)
        for command in super().get_system_commands(screen):  # Textual's saves to ~/Downloads, often missing
            if command.title == "Screenshot":
                command = SystemCommand("Screenshot", f"Save an SVG of this screen in {self.screenshot_dir}",
                                        lambda: self.set_timer(0.1, self.action_save_screenshot))
            yield command


def restart_summary(preview: dict[str, Any]) -> str:
    """The restart dialog's text: what the restart applies and what it cannot (values masked)."""
    changes = [redact(str(c)) for c in preview.get("changes") or []]
    held = [redact(str(h)) for h in preview.get("held") or []]
    lines = ["Stop and start every worker, re-reading config.toml, .env and the environment."]
    lines += ["", "It applies (secrets masked):", *(f"• {c}" for c in changes)] if changes \
        else ["", "No configuration changes: the workers restart with what they run now."]
    if held:
        lines += ["", "It cannot apply (they need a restart of piyasa):", *(f"• {h}" for h in held)]
    return "\n".join(lines)


def drain_summary(fleet: FleetSummary) -> str:
    """The drain dialog's text: what this host hands over, to whom, and what happens to it."""
    me, held, others = fleet.host_id, fleet.held_by(fleet.host_id), fleet.others_live()
    lines = [f"{me} hands its {held} shard(s) over to the other hosts, then stops: its workers stop those "
             "shards' bots (a message being typed for one is not sent), its leases are released and it leaves "
             "the fleet."]
    if others:
        lines += ["", f"They go to: {', '.join(others)} (each takes up to its share of {fleet.shards} shards)."]
    else:
        lines += ["", "No other live host: the shards stay unheld — their bots are silent — until a host joins."]
    lines += ["", "Attached, this dashboard then loses its server; embedded, it closes. Start the host again to "
              "rejoin (it takes shards back up to its share)."]
    return "\n".join(lines)


def embedded_host_id() -> str:
    """An embedded dashboard's fleet name when ``[fleet] host_id`` is empty: the machine and the process."""
    import os
    import socket

    return f"{socket.gethostname()}-tui-{os.getpid()}"


def run_embedded(config: Any, *, workers: int | None = None, log_file: Any = None) -> int:
    """`piyasa-tui` without a command: the supervisor and the TUI in one event loop; `q` quits, then
    the supervisor stops every worker. Logging goes to a file while the screen is in use."""
    import multiprocess.resource_tracker

    from piyasa_core.secrets import install_log_redaction
    from piyasa_core.store.bootstrap import initialise
    from piyasa_core.workers.supervisor import Supervisor

    initialise(config)
    multiprocess.resource_tracker.ensure_running()  # spawning inside a running Textual app needs it
    path = log_file or config.data_dir / "logs" / "tui.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    install_log_redaction(root)

    async def main() -> None:
        supervisor = Supervisor(config, workers=workers)
        app = PiyasaApp(supervisor, screenshot_dir=config.data_dir / "screenshots")
        fleet = config.settings.fleet
        if fleet.enabled:  # the embedded supervisor is a host of the fleet too (it has no control API)
            # drained (every shard handed over): the app closes, then the workers stop below
            supervisor.use_fleet(fleet.host_id or embedded_host_id(), "").on_drained = app.exit
        await supervisor.start()
        try:
            await app.run_async()
        finally:
            # the screen is gone by now: say what the wait is for
            print(f"piyasa: stopping {supervisor.total} workers (each sends its message in flight)…",
                  file=sys.stderr, flush=True)
            started = time.monotonic()
            await supervisor.stop()
            print(f"piyasa: stopped in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)

    try:
        asyncio.run(main())
    finally:
        root.handlers[:] = saved
        handler.close()
    return 0
