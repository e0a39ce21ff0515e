"""`piyasa-tui` command line: argument parsing, config loading and dispatch.

Exit codes: 0 success, 1 a check or criterion failed, 2 bad input (usage, config, `.env`, URLs).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from piyasa_core import __version__
from piyasa_core.config import PROVIDER_NAMES, Config, load_config
from piyasa_core.errors import PiyasaError
from piyasa_core.secrets import install_log_redaction, redact

PROG = "piyasa-tui"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_common(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # In sub-commands the defaults are SUPPRESSed so they do not overwrite flags given earlier.
    default = argparse.SUPPRESS if in_subcommand else None
    group = parser.add_argument_group("common options")
    group.add_argument("--config", type=Path, default=default, metavar="PATH",
                       help="configuration file (default: ./config.toml)")
    group.add_argument("--env-file", type=Path, default=default, metavar="PATH",
                       help="dotenv file (default: ./.env when present)")
    group.add_argument("--workers", type=_positive_int, default=default, metavar="N",
                       help="number of worker processes (overrides [supervisor] workers)")
    group.add_argument("--provider", choices=PROVIDER_NAMES, default=default,
                       help="active LLM provider (overrides [llm] active)")
    group.add_argument("--data-dir", type=Path, default=default, metavar="PATH",
                       help="data directory (overrides [paths] data_dir)")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="piyasa — control centre for a simulated market-chat community. Without a command: the "
                "dashboard with the workers embedded.",
        epilog="Exit codes: 0 ok, 1 a check failed, 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--serve", action="store_true",
                        help="run headless: supervisor, workers, update receiver and the control API")
    parser.add_argument("--attach", nargs="?", const="", default=None, metavar="URL",
                        help="open the dashboard on a running --serve (URL discovered in the data dir if omitted)")
    parser.add_argument("--port", type=int, default=None, metavar="N",
                        help="control API port for --serve (default: [control] port; 0 = any free port)")
    _add_common(parser, in_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    init = commands.add_parser("init", help="create or upgrade the database and sync bots/chats from config",
                               description="Create or upgrade the database schema and sync the bots and "
                                           "chats of config.toml (idempotent).")
    _add_common(init, in_subcommand=True)
    check = commands.add_parser("check", help="validate config and .env; reach the database, Redis, LLM providers, Telegram",
                                description="Validate config.toml and .env and reach every configured "
                                            "service; prints a table.")
    _add_common(check, in_subcommand=True)
    status = commands.add_parser("status", help="show the state of a running --serve instance",
                                 description="Read the snapshot of a running `piyasa-tui --serve` through its "
                                             "control API (found through the data directory, or --url).")
    status.add_argument("--json", action="store_true", help="print the raw snapshot as JSON")
    status.add_argument("--url", default=None, help="control API URL (default: discovered in the data dir)")
    _add_common(status, in_subcommand=True)
    from piyasa_tui.bench_cli import add_parser as add_bench
    from piyasa_tui.fleet_cli import add_parser as add_drain

    add_drain(commands, _add_common)
    add_bench(commands, _add_common)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """Load configuration with command-line flags on top."""
    overrides: dict[tuple[str | int, ...], Any] = {}
    if getattr(args, "workers", None) is not None:
        overrides[("supervisor", "workers")] = args.workers
    if getattr(args, "provider", None) is not None:
        overrides[("llm", "active")] = args.provider
    if getattr(args, "data_dir", None) is not None:
        overrides[("paths", "data_dir")] = str(args.data_dir)
    return load_config(getattr(args, "config", None), getattr(args, "env_file", None), overrides=overrides)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    install_log_redaction(root)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging()
    from piyasa_tui import commands
    from piyasa_tui.bench_cli import run_bench
    from piyasa_tui.fleet_cli import run_drain

    handlers: dict[str | None, Callable[[argparse.Namespace], int]] = {
        "init": commands.run_init,
        "check": commands.run_check,
        "status": commands.run_status,
        "drain": run_drain,
        "bench": run_bench,
    }
    if (args.serve or args.attach is not None) and args.command is not None:
        parser.error("--serve and --attach take no command")
    if args.serve and args.attach is not None:
        parser.error("--serve and --attach cannot be combined")
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error(f"argument --port: {args.port} is not a port number (0-65535)")
    if args.serve:
        handlers[None] = commands.run_serve
    elif args.attach is not None:
        handlers[None] = commands.run_attach
    elif args.command is None:
        handlers[None] = commands.run_tui
    try:
        return handlers[args.command](args)
    except PiyasaError as exc:
        print(f"{PROG}: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
