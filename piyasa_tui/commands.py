"""Rendering of the non-interactive sub-commands (`init`, `check`) with rich."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from piyasa_core.checks import CheckRow, run_checks
from piyasa_core.store.bootstrap import initialise

_STATUS_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]", "off": "[dim]off[/]"}


def run_init(args: argparse.Namespace) -> int:
    """`piyasa-tui init`: migrate, sync, and show the bots with the worker that owns each."""
    from piyasa_tui.cli import config_from_args

    config = config_from_args(args)
    console = Console(highlight=False)
    result = initialise(config)
    console.print(f"database {result.url}: " + (
        f"created at schema {result.after}" if result.before is None
        else f"upgraded {result.before} → {result.after}" if result.before != result.after
        else f"schema {result.after} (current)"))
    report = result.sync
    for verb, items in (("created", report.created), ("updated", report.updated),
                        ("disabled", report.disabled)):
        if items:
            console.print(f"{verb}: " + ", ".join(items))
    if not report.changed:
        console.print(f"bots and chats already in sync ({len(report.unchanged)} rows unchanged)")
    table = Table(title=f"bots ({config.settings.supervisor.workers} workers, bot_id % workers)")
    for column in ("id", "name", "username", "persona", "enabled", "worker", "chats"):
        table.add_column(column, no_wrap=column in ("username", "chats"))
    for bot in result.bots:
        table.add_row(str(bot.id), escape(bot.name), "@" + bot.username, escape(bot.persona),
                      "yes" if bot.enabled else "no", str(bot.worker) if bot.enabled else "–",
                      escape(", ".join(bot.chats)))
    console.print(table)
    return 0


def render_checks(rows: list[CheckRow], console: Console) -> None:
    """Print the check table."""
    table = Table(title="piyasa check")
    table.add_column("item")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for row in rows:
        table.add_row(escape(row.item), _STATUS_STYLE[row.status], escape(row.detail))
    console.print(table)


def run_check(args: argparse.Namespace) -> int:
    """`piyasa-tui check`: 0 when nothing failed, 2 when a configured service is unreachable."""
    from piyasa_tui.cli import PROG, config_from_args

    config = config_from_args(args)
    rows = run_checks(config)
    console = Console(highlight=False)
    render_checks(rows, console)
    failed = [row for row in rows if row.status == "fail"]
    if failed:
        Console(stderr=True, highlight=False).print(
            f"{PROG}: error: {len(failed)} check(s) failed: {failed[0].detail}", markup=False)
        return 2
    return 0
