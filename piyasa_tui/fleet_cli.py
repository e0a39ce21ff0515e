"""Fleet mode on the command line: the fleet section of `piyasa-tui status`, and `piyasa-tui drain`
(the host hands its shards over to the other hosts, then stops; the command waits for it).

`drain` exits 0 once the host holds no shard or is gone, 1 when it cannot be reached or still holds
shards after the wait, 2 when it is not in fleet mode."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from piyasa_core.errors import PiyasaError
from piyasa_tui.fleet import age_text, rate_text, read_fleet, shard_ranges, state_words, workers_text

if TYPE_CHECKING:
    from piyasa_core.control import ControlClient

POLL_S = 0.5  # how often `drain` looks at the host's status
WAIT_MARGIN_S = 30.0  # beyond the serve's own drain deadline (4 × lease_ttl) before `drain` gives up
WHICH_FROM = 110  # console width from which the shard ids are a column of the hosts table
STATE_STYLE = {"live": "green", "draining": "yellow", "gone": "bold red"}


class NotFleet(PiyasaError):
    """The target is not a fleet host (`[fleet] enabled = false`): bad input, exit 2."""

    exit_code = 2


class DrainTimeout(PiyasaError):
    """The host still holds shards after the wait: exit 1."""

    exit_code = 1


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_parser(commands: Any, add_common: Callable[..., None]) -> None:
    """`piyasa-tui drain [--url URL] [--timeout SECONDS]`."""
    drain = commands.add_parser(
        "drain", help="fleet mode: hand a running --serve's shards to the other hosts, then stop it",
        description="Ask a running `piyasa-tui --serve` in fleet mode (found through the data directory, or "
                    "--url) to hand its shards over to the other hosts; it stops by itself once they are. "
                    "Waits until it holds no shard or is gone. Exit 0 done, 1 unreachable or still holding "
                    "shards after the wait, 2 not in fleet mode.")
    drain.add_argument("--url", default=None, help="control API URL (default: discovered in the data dir)")
    drain.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="how long to wait for the hand-over (default: 4 × lease_ttl + 30 s)")
    add_common(drain, in_subcommand=True)


# ── status ───────────────────────────────────────────────────────────────────────────────────
def render_fleet(data: dict[str, Any], console: Console) -> None:
    """The `status` command's fleet section: one row per host, this host marked, then the shards line."""
    fleet = read_fleet(data)
    if fleet is None:
        return
    table = Table(title=f"fleet (this host: {escape(fleet.host_id)}; 1m/10m: msg/min)")
    which = console.width >= WHICH_FROM  # narrower: the shard ids on a line of their own
    columns = ("host", "state", "heartbeat", "shards", *(("which",) if which else ()), "workers", "sent", "1m", "10m")
    for column in columns:
        table.add_column(column, justify="right" if column in ("heartbeat", "sent", "1m", "10m") else "left",
                         no_wrap=column != "which")
    for h in fleet.hosts:
        name = ("● " if h.here else "  ") + escape(h.host_id)
        cells = [name, f"[{STATE_STYLE[h.state]}]{state_words(h)}[/]", age_text(h.heartbeat_age_s),
                 f"{h.held}/{h.target}", *((shard_ranges(h.shards),) if which else ()),
                 escape(workers_text(h.worker_states)), "–" if h.sent_total is None else str(h.sent_total),
                 rate_text(h.rate_1m), rate_text(h.rate_10m)]
        table.add_row(*cells)
    console.print(table)
    if not which:
        console.print("which: " + " · ".join(f"{h.host_id} {shard_ranges(h.shards)}" for h in fleet.hosts if h.shards),
                      markup=False)
    console.print(fleet.shards_line(), style="bold red" if fleet.unheld else None, markup=False)
    if fleet.draining:
        console.print(f"{fleet.host_id} is draining: it hands its shards over, then stops", style="yellow",
                      markup=False)
    if fleet.error:
        console.print(f"the fleet agent's last round failed: {fleet.error}", style="bold red", markup=False)


# ── drain ────────────────────────────────────────────────────────────────────────────────────
async def drain(client: ControlClient, say: Callable[[str], None], *, timeout: float | None = None,
                poll_s: float = POLL_S, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> int:
    """Drain the host behind ``client`` and wait until it holds no shard or is gone; returns 0.

    Raises :class:`NotFleet` (not in fleet mode), :class:`DrainTimeout` (shards still held after
    ``timeout``, default 4 × lease_ttl + 30 s) or ``ControlError`` (unreachable before the drain)."""
    from piyasa_core.control import ControlError
    from piyasa_core.control.client import HINT_NOT_RUNNING

    before = read_fleet((await client.status()).get("fleet"))
    try:
        result = await client.drain_host()
    except ControlError as exc:
        if exc.status == 400:  # the server's own words: "drain needs fleet mode …"
            raise NotFleet(f"{client.url} is not a fleet host: {str(exc).rsplit(': ', 1)[-1]}") from None
        raise
    host = str(result.get("host") or (before.host_id if before else "?"))
    held = int(result.get("shards") or 0)
    others = before.others_live() if before is not None else ()
    to = ", ".join(others) if others else "no other live host: they stay unheld until a host joins"
    say(f"draining {host} ({client.url}): {held} shard(s) to hand over → {to}")
    ttl = before.lease_ttl if before is not None and before.lease_ttl else 10.0
    started = clock()
    deadline = started + (timeout if timeout is not None else 4 * ttl + WAIT_MARGIN_S)
    last = held
    while True:
        await sleep(poll_s)
        try:
            fleet = read_fleet((await client.status()).get("fleet"))
        except ControlError as exc:  # the serve stops by itself once drained: its control API goes first
            reason = str(exc).removeprefix(f"control API at {client.url}: ").replace(HINT_NOT_RUNNING, "").strip()
            say(f"{host} has stopped: its control API is gone ({reason})")
            return 0
        now_held = fleet.held_by(host) if fleet is not None else 0
        if now_held != last and now_held:
            say(f"{host}: {now_held} shard(s) left")
        last = now_held
        if now_held == 0:
            unheld = fleet.unheld if fleet is not None else ()
            tail = f"; unheld now: {shard_ranges(unheld)}" if unheld else ""
            say(f"{host} holds no shard now and stops by itself (its workers finish the message in flight){tail}")
            return 0
        now = clock()
        if now >= deadline:
            raise DrainTimeout(f"{host} still holds {now_held} shard(s) after {now - started:.0f} s of waiting "
                               "(see its log; it stops by itself 4 × lease_ttl after the drain began)")


def run_drain(args: argparse.Namespace) -> int:
    """`piyasa-tui drain`: drain the discovered (or --url) serve and wait for it."""
    from piyasa_core.control import ControlClient
    from piyasa_tui.commands import _control_target

    url, token = _control_target(args, args.url)
    console = Console(highlight=False)

    async def main() -> int:
        async with ControlClient(url, token) as client:  # type: ignore[arg-type]
            return await drain(client, lambda line: console.print(line, markup=False), timeout=args.timeout,
                               poll_s=POLL_S)

    return asyncio.run(main())
