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
    if report.held:
        console.print("kept disabled by the operator: " + ", ".join(report.held)
                      + " (enable on the dashboard's bots screen, key t, or with POST /bots)")
    table = Table(title=f"bots ({config.settings.supervisor.workers} workers, bot_id % workers)")
    for column in ("id", "name", "username", "persona", "enabled", "worker", "chats"):
        table.add_column(column, no_wrap=column in ("username", "chats"))
    for bot in result.bots:
        table.add_row(str(bot.id), escape(bot.name), "@" + bot.username, escape(bot.persona),
                      "yes" if bot.talks else "no (operator)" if bot.enabled else "no",
                      str(bot.worker) if bot.talks else "–",
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
    """`piyasa-tui check`: 0 when nothing failed, 1 when a check failed (a configured service is unreachable,
    a key refused); bad input (an invalid config) is 2, as for every command."""
    from piyasa_tui.cli import PROG, config_from_args

    config = config_from_args(args)
    rows = run_checks(config)
    console = Console(highlight=False)
    render_checks(rows, console)
    failed = [row for row in rows if row.status == "fail"]
    if failed:
        Console(stderr=True, highlight=False).print(
            f"{PROG}: error: {len(failed)} check(s) failed: {failed[0].detail}", markup=False)
        return 1
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """`piyasa-tui --serve`: headless supervisor with the control API; JSON logs on stdout."""
    import asyncio

    from piyasa_core.serve import serve, setup_json_logging
    from piyasa_core.store.bootstrap import initialise
    from piyasa_tui.cli import config_from_args

    config = config_from_args(args)
    setup_json_logging()
    initialise(config)  # the schema must be current before workers start
    return asyncio.run(serve(config, port=args.port))


def run_tui(args: argparse.Namespace) -> int:
    """`piyasa-tui`: the Textual dashboard with the supervisor and its workers embedded."""
    from piyasa_tui.app import run_embedded
    from piyasa_tui.cli import config_from_args

    return run_embedded(config_from_args(args), workers=args.workers)


def _control_target(args: argparse.Namespace, url: str | None) -> tuple[str, object]:
    import os

    from piyasa_core.control import ControlError, discover, resolve_token
    from piyasa_tui.cli import config_from_args

    config = config_from_args(args)
    env_token = os.environ.get(config.settings.control.token_env) or config.environ.get(config.settings.control.token_env)
    if url:
        return url, resolve_token(env_token, config.data_dir)
    found = discover(config.data_dir, env_token=env_token)
    if found is None:
        raise ControlError(f"no running piyasa-tui --serve found in {config.data_dir} (start one, or pass a URL)")
    return found


def run_attach(args: argparse.Namespace) -> int:
    """`piyasa-tui --attach [URL]`: the same dashboard for a running `--serve`, through its control API."""
    import asyncio

    from piyasa_tui.app import PiyasaApp
    from piyasa_tui.cli import config_from_args
    from piyasa_tui.remote import RemoteSource

    url, token = _control_target(args, args.attach or None)
    screenshots = config_from_args(args).data_dir / "screenshots"

    async def main() -> None:
        source = RemoteSource(url, token)  # type: ignore[arg-type]
        await source.start()
        try:
            await PiyasaApp(source, screenshot_dir=screenshots).run_async()
        finally:
            await source.aclose()

    asyncio.run(main())
    return 0


def run_status(args: argparse.Namespace) -> int:
    """`piyasa-tui status [--json]`: a running instance's snapshot."""
    import json

    from piyasa_core.control import fetch_status

    url, token = _control_target(args, args.url)
    snapshot = fetch_status(url, token)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(snapshot, ensure_ascii=False, indent=2))
        return 0
    render_status(snapshot, Console(highlight=False))
    return 0


def render_status(snap: dict, console: Console) -> None:  # type: ignore[type-arg]
    """A compact text view of a snapshot (the fleet in fleet mode, workers, providers, last messages)."""
    console.print(f"provider {snap['active_provider']} · {'running' if snap['running'] else 'paused'} · "
                  f"{snap['sent_total']} sent · {snap['rate_1m']:.1f} msg/min (1m) · {snap['rate_10m']:.1f} (10m)")
    if snap.get("fleet"):
        from piyasa_tui.fleet_cli import render_fleet

        render_fleet(snap["fleet"], console)
    workers = Table(title="workers")
    for column in ("#", "pid", "state", "restarts", "bots", "sent", "1m", "10m", "last error"):
        workers.add_column(column)
    for w in snap["workers"]:
        workers.add_row(str(w["worker_id"]), str(w["pid"] or "–"), w["state"], str(w["restarts"]),
                        escape(", ".join(w["bot_names"])), str(w["sent_total"]), f"{w['rate_1m']:.1f}",
                        f"{w['rate_10m']:.1f}", escape(w["last_error"] or ""))
    console.print(workers)
    providers = Table(title="providers")
    for column in ("name", "state", "reason", "requests today", "tokens today"):
        providers.add_column(column)
    for p in snap["providers"]:
        name = ("● " if p["active"] else "  ") + p["name"]
        providers.add_row(name, p["state"], escape(p["reason"] or ("" if p["is_llm"] else "offline — not an LLM")),
                          str(p["requests_today"]), str(p["tokens_today"]))
    console.print(providers)
    plan = snap.get("day_plan")
    if plan:
        quota = [f"{p['name']} {p['affordable_left']:.0f} msg left, {p['planned_per_hour']:.1f}/h"
                 for p in plan["providers"] if p["affordable_left"] is not None and p["planned_per_hour"] is not None]
        console.print(f"day's plan: pace ×{plan['scale']:.2f}, {plan['planned_per_hour']:.1f} msg/h"
                      + (f"; {'; '.join(quota)}" if quota else "; no daily quota in the chain")
                      + (f" — {escape(plan['warning'])}" if plan["warning"] else ""))
    for item in snap["feed"][-5:]:
        console.print(f"w{item['worker_id']} {escape(item['bot_name'])} → {escape(item['chat_key'])}: {escape(item['text'])}")
