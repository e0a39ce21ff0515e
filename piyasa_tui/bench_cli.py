"""`piyasa-tui bench`: the benchmark one-shot and headless (exit 0 pass, 1 a criterion failed or the
run was cancelled, 2 bad input or it could not run)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from piyasa_core.bench.options import BenchOptions, resolve_options
from piyasa_core.errors import PiyasaError

FLAGS = {"duration": "--duration", "time_scale": "--time-scale", "sample_every": "--sample-every",
         "out": "--out", "formats": "--format", "start_at": "--start-at", "warmup": "--warmup", "profile": "--profile",
         "human_every": "--human-every"}


class BenchFailed(PiyasaError):
    """The benchmark could not run (workers never came up, the database went away): exit 2."""

    exit_code = 2


def add_parser(commands: Any, add_common: Any) -> None:
    bench = commands.add_parser(
        "bench", help="run the benchmark headless and write its reports",
        description="Run the benchmark with the workers of this configuration and write report.json, "
                    "report.md, report.html, timeseries.csv and the timeline (see docs/benchmark.md). "
                    "Exit 0 when every criterion passes, 1 when one fails (or the run is interrupted), "
                    "2 on bad input or when it cannot run.")
    bench.add_argument("--duration", default=None, metavar="DURATION",
                       help="simulated duration, e.g. 10m, 90s, 1h (default: [benchmark] duration)")
    bench.add_argument("--time-scale", default=None, metavar="K",
                       help="simulated seconds per real second: 60 runs 10 simulated minutes in 10 s")
    bench.add_argument("--sample-every", default=None, metavar="DURATION",
                       help="sampling interval in simulated time (default: [benchmark] sample_every)")
    bench.add_argument("--profile", default=None, metavar="NAME",
                       help="the pace the bots run at and the throughput thresholds: seed (the older system's "
                            "test, 50–100 per bot per hour), everyday ([engine] pace) or humans (everyday with a person's "
                            "question every 5 minutes); default: [benchmark] profile")
    bench.add_argument("--human-every", default=None, metavar="DURATION",
                       help="a person asks the group a question this often (simulated), some by name or "
                            "@username; 'off' for none (default: the profile's human_every)")
    bench.add_argument("--start-at", default=None, metavar="WHEN",
                       help="where the simulated clock starts: HH:MM today, YYYY-MM-DDTHH:MM, or '' for now "
                            "(default: [benchmark] start_at)")
    bench.add_argument("--warmup", default=None, metavar="DURATION",
                       help="simulated time before the measured window opens (default: [benchmark] warmup)")
    bench.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="where run directories and the timeline go (default: <data_dir>/bench)")
    bench.add_argument("--format", default=None, metavar="LIST",
                       help="comma-separated report formats out of json,md,html,csv (default: all)")
    add_common(bench, in_subcommand=True)


def run_bench(args: argparse.Namespace) -> int:
    from piyasa_tui.cli import config_from_args

    config = config_from_args(args)
    given = {"duration": args.duration, "time_scale": args.time_scale, "sample_every": args.sample_every,
             "start_at": args.start_at, "out": args.out, "formats": args.format, "warmup": args.warmup,
             "profile": args.profile, "human_every": args.human_every}
    opts = resolve_options(config, {k: v for k, v in given.items() if v is not None}, trigger="cli",
                           label=lambda key: FLAGS.get(key, key))
    from piyasa_core.store.bootstrap import initialise

    initialise(config)
    console = Console(highlight=False, stderr=False)
    return asyncio.run(_bench(config, opts, console))


async def _bench(config: Any, opts: BenchOptions, console: Console) -> int:
    import multiprocess.resource_tracker

    from piyasa_core.bench.runner import BenchCancelled, BenchmarkRun, sim_start_for
    from piyasa_core.workers.supervisor import Supervisor

    multiprocess.resource_tracker.ensure_running()
    start = sim_start_for(opts.start_at, config.settings.engine.timezone)
    supervisor = Supervisor(config, time_scale=opts.time_scale, sim_start=start)
    run = BenchmarkRun(supervisor, opts, own_clock=False)
    supervisor.scope = run.prepare()  # the workers start inside the run's own chats
    profile = opts.profile
    console.print(f"benchmark {run.id}: {opts.duration / 60:g} simulated minutes at ×{opts.time_scale:g} "
                  f"(≈ {opts.real_seconds:.0f} s), {supervisor.total} workers, provider {opts.provider}, profile "
                  f"{profile.name} ({profile.hourly_min}–{profile.hourly_max} per bot per hour), reports → "
                  f"{escape(str(opts.out_dir / run.id))}")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.cancel)
    await supervisor.start()
    try:
        task = asyncio.create_task(run.run())
        if console.is_terminal:
            await _show_progress(run, task, console)
        try:
            result = await task
        except BenchCancelled as exc:
            console.print(f"benchmark {run.id} {exc}")
            return 1
        except (TimeoutError, OSError) as exc:
            raise BenchFailed(f"the benchmark could not run: {exc}") from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await supervisor.stop()
    render_summary(result.report, str(result.run_dir), result.files, console)
    if run.cancelled:
        return 1
    return 0 if result.passed else 1


async def _show_progress(run: Any, task: asyncio.Task[Any], console: Console) -> None:
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("benchmark", total=run.options.duration, info="starting workers…")
        while not task.done():
            p = run.progress()
            rate = p["throughput_per_min"]
            info = f"{p['state']} · {p['sent']} sent" + (f" · {rate:.2f} msg/min" if rate is not None else "")
            progress.update(bar, completed=p["elapsed_sim_s"], info=info)
            await asyncio.wait([task], timeout=0.25)


def render_summary(report: dict[str, Any], run_dir: str, files: list[str], console: Console) -> None:
    from piyasa_core.bench.writers import conversation_line, criterion_status, fmt, pct, verdict

    table = Table(title=f"benchmark {report['run']['id']} — {verdict(report)}")
    for column in ("criterion", "result", "value", "threshold", "detail"):
        table.add_column(column, overflow="fold")
    for c in report["criteria"]:
        is_rate = c["id"] == "l2_hit_rate"
        table.add_row(c["name"], criterion_status(c), pct(c["value"]) if is_rate else fmt(c["value"], 3),
                      f"{c['op']} " + (pct(c["threshold"]) if is_rate else fmt(c["threshold"])), escape(c["detail"]))
    console.print(table)
    for c in report["criteria"]:  # each failure also as one whole line, whatever the terminal's width
        if c["required"] and c["status"] == "fail":
            console.print(f"FAILED {escape(c['name'])}: {escape(c['detail'])}", soft_wrap=True)
    totals = report["totals"]
    console.print(f"{totals['sent']} messages in {report['run']['elapsed_sim_s'] / 60:.1f} simulated minutes "
                  f"({fmt(totals['throughput_per_min'])} msg/min); per worker {totals['per_worker']}")
    console.print("conversation: " + escape(conversation_line(report["quality"])), soft_wrap=True)
    console.print(f"reports: {escape(run_dir)} ({', '.join(files)}); timeline: "
                  f"{escape(str(Path(run_dir).parent / 'timeline.md'))}")
    sys.stdout.flush()
