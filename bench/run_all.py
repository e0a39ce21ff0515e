"""Run every performance measure (P1–P7) and write the table of docs/performance.md.

Each measure's script runs as a subprocess, one after another (they would disturb each other on two
cores); its figures are read from the ``RESULT {json}`` line the script prints last (P1's rows also
from its table lines, so the SQLite cases survive a PostgreSQL failure). A script that fails is
written as ``failed: <reason>``, never with an older or invented number. The table between
``<!-- run_all:begin -->`` and ``<!-- run_all:end -->`` is rewritten: the measures run now replace
their rows, the others keep theirs (the "Measured" line says when each row was measured).

    .venv/bin/python bench/run_all.py                  # everything, goal durations (~25 min)
    .venv/bin/python bench/run_all.py --only P1,P4     # some measures (P1 and P7 share one run: either gives both)
    .venv/bin/python bench/run_all.py --quick          # short smoke durations; prints, does not write

``--quick`` gives much shorter runs (P1 2 s per case, P2 2 runs, P3 20 s, P4 30 messages, P5 2 trials,
P6 30 s): they show that every measure still runs, their figures are not goal figures, and the doc
is not written unless ``--write`` is given (the rows are then marked "quick").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"
IDS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7")
RESULT = re.compile(r"^RESULT (\{.*\})\s*$", re.MULTILINE)
ENGINE_ROW = re.compile(r"^(sqlite|postgresql)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s*$", re.MULTILINE)
DATES = re.compile(r"<!-- run_all:dates (\{.*?\}) -->")


# ── the commands ──────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Job:
    """One script run: its arguments (after ``bench/``) and how long it may take."""

    script: str
    args: tuple[str, ...]
    timeout: float

    @property
    def reproduce(self) -> str:
        return shlex.join([".venv/bin/python", f"bench/{self.script}", *self.args])


def jobs_for(measure: str, quick: bool) -> list[Job]:
    """The script runs behind one measure (P1 and P7 share the engine run)."""
    if measure in ("P1", "P7"):
        d = 2 if quick else 10
        return [Job("engine.py", ("--duration", str(d)), 8 * (d + 90))]
    if measure == "P2":
        runs = 2 if quick else 20
        return [Job("bench_repeat.py", ("--runs", str(runs)), 300 + 90 * runs)]
    if measure == "P3":
        d = 20 if quick else 120
        return [Job("ratelimit.py", ("--duration", str(d)), d + 240),
                Job("ratelimit.py", ("--duration", str(d), "--prompt-repeat", "8"), d + 240)]
    if measure == "P4":
        return [Job("tokens.py", ("--messages", "30" if quick else "200"), 600)]
    if measure == "P5":
        trials = 2 if quick else 10
        return [Job("supervisor.py", ("--trials", str(trials)), 120 + 60 * trials)]
    if measure == "P6":
        return [Job("tui.py", ("--duration", "30") if quick else (), 120 + (30 if quick else 300))]
    raise ValueError(measure)


@dataclass
class Outcome:
    """What one job left: its RESULT, its stdout, or why it failed."""

    job: Job
    result: dict[str, Any] | None = None
    stdout: str = ""
    error: str | None = None
    seconds: float = 0.0
    returncode: int | None = None


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def run_job(job: Job, echo: bool) -> Outcome:
    cmd = [sys.executable, str(ROOT / "bench" / job.script), *job.args]
    print(f"── {job.reproduce}", flush=True)
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=job.timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return Outcome(job, stdout=out, error=f"no result within {job.timeout:.0f} s",
                       seconds=time.monotonic() - started)
    outcome = Outcome(job, stdout=proc.stdout, seconds=time.monotonic() - started, returncode=proc.returncode)
    if echo:
        sys.stdout.write(proc.stdout)
    found = RESULT.findall(proc.stdout)
    if found:
        try:
            outcome.result = json.loads(found[-1])
        except ValueError as exc:
            outcome.error = f"unreadable RESULT line ({exc})"
    else:
        why = last_line(proc.stderr) or last_line(proc.stdout) or "no output"
        outcome.error = f"exit {proc.returncode}: {why}"
    if outcome.error:
        print(f"   failed: {outcome.error}", flush=True)
    print(f"   {outcome.seconds:.0f} s", flush=True)
    return outcome


# ── figures ───────────────────────────────────────────────────────────────────────────────────────
@dataclass
class Row:
    id: str
    measure: str
    goal: str
    figure: str = ""
    met: str = ""
    reproduce: str = ""


MEASURES: dict[str, tuple[str, str]] = {
    "P1": (("engine ceiling: instant offline provider, pacing off, console transport, SQLite, 4 worker processes "
           "(also PostgreSQL and 1 worker)"), "≥ 1,000 msg/s total (SQLite, 4 workers, 10 bots)"),
    "P2": (("paced benchmark, seed profile: 10 simulated minutes at ×60, 4 workers × the 4 default bots (50–100/h, "
           "each at its persona's pace), offline provider, SQLite; N runs, each in chats of its own"),
           "every run passes: each bot and worker within ±15 % of its plan (1 message of slack), 4 workers in "
           "parallel, lateness p95 ≤ 30 s, ≥ 4.0 msg/min, 0 duplicates"),
    "P3": (("rate-limit utilisation: fake provider enforcing 30 RPM / 6,000 TPM, 4 worker processes × 3 loops, "
           "budget shared through Redis; requests-bound (~160-token prompts) and tokens-bound (~390)"),
           "≥ 95 % of the ceiling, ≤ 1 % answered 429, 0 lost"),
    "P4": (("tokens per sent message: the real engine (groq SDK → fake server billing with the real Llama 3 "
           "tokenizer and chat template), pacing off, 4 personas, prompt_token_budget 600, every call counted "
           "(retries, discarded drafts)"), "≤ 700 on average"),
    "P5": (("recovery, 4 real workers: kill -9 of one → it produces again; .env edited + restart-all → "
           "all produce again"), "≤ 2 s; ≤ 5 s (medians)"),
    "P6": (("TUI at 200 feed events/s: the real PiyasaApp at 120×40 with a terminal-like driver; a key every 2 s, "
           "alternating `space` and `f`/Escape; latency = press → the first frame written that shows the effect"),
           "key → redraw p95 ≤ 100 ms; RSS flat ±10 %"),
    "P7": ("scale: 1,000 bots × 50 chats vs 10 bots × 1 chat (SQLite, 4 workers, from the P1 run)",
           "CPU per message ratio ≤ 1.5"),
}


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def engine_cases(outcome: Outcome) -> list[dict[str, Any]]:
    """P1's cases: from RESULT, else from the table lines printed before a failure."""
    if outcome.result:
        return list(outcome.result["cases"])
    return [{"backend": m[0], "workers": int(m[1]), "bots": int(m[2]), "chats": int(m[3]), "rate": float(m[4]),
             "cpu_ms": float(m[5]), "skipped": int(m[6])} for m in ENGINE_ROW.findall(outcome.stdout)]


def case(cases: list[dict[str, Any]], backend: str, workers: int, bots: int) -> dict[str, Any] | None:
    return next((c for c in cases if (c["backend"], c["workers"], c["bots"]) == (backend, workers, bots)), None)


def fig_p1(outcomes: list[Outcome]) -> tuple[str, bool]:
    o = outcomes[0]
    cases = engine_cases(o)
    base = case(cases, "sqlite", 4, 10)
    if base is None:
        raise RuntimeError(o.error or "no SQLite 4-worker case in the output")
    parts = []
    for backend in ("sqlite", "postgresql"):
        for workers in (4, 1):
            a, b = case(cases, backend, workers, 10), case(cases, backend, workers, 1000)
            if a is None and b is None:
                continue
            label = f"{'SQLite' if backend == 'sqlite' else 'PostgreSQL'}, {workers} worker{'s' * (workers > 1)}"
            cells = [f"{c['rate']:,.0f} msg/s ({n}, {c['cpu_ms']:.2f} ms CPU/msg)"
                     for c, n in ((a, "10 bots"), (b, "1,000 bots × 50 chats")) if c is not None]
            text = f"{label}: " + ", ".join(cells)
            parts.append(f"**{text}**" if (backend, workers) == ("sqlite", 4) else text)
    if o.error and not o.result:
        parts.append(f"(the run then failed: {o.error})")
    return "; ".join(parts), base["rate"] >= 1000


def fig_p7(outcomes: list[Outcome]) -> tuple[str, bool]:
    o = outcomes[0]
    cases = engine_cases(o)
    small, big = case(cases, "sqlite", 4, 10), case(cases, "sqlite", 4, 1000)
    if small is None or big is None:
        raise RuntimeError(o.error or "the SQLite 4-worker cases are missing")
    ratio = big["cpu_ms"] / small["cpu_ms"]
    text = (f"CPU/msg 1,000 : 10 bots = **{ratio:.2f}** ({big['cpu_ms']:.2f} / {small['cpu_ms']:.2f} ms, "
            f"SQLite, 4 workers)")
    pg_small, pg_big = case(cases, "postgresql", 4, 10), case(cases, "postgresql", 4, 1000)
    if pg_small and pg_big:
        text += f"; PostgreSQL {pg_big['cpu_ms'] / pg_small['cpu_ms']:.2f}"
    return text, ratio <= 1.5


def only_result(outcomes: list[Outcome]) -> dict[str, Any]:
    """The RESULT of a measure's single script run; raises with its error when it gave none."""
    if outcomes[0].result is None:
        raise RuntimeError(outcomes[0].error)
    return outcomes[0].result


def fig_p2(outcomes: list[Outcome]) -> tuple[str, bool]:
    r = only_result(outcomes)
    failures = ", ".join(f"{k} {v}" for k, v in r["failures"].items()) or "none"
    text = (f"**{r['passed']} of {r['runs']}** runs passed every required criterion; throughput min "
            f"{r['throughput_min']:.2f}, median {r['throughput_median']:.2f}, max {r['throughput_max']:.2f} msg/min "
            f"(the personas' plan: ~5.8); worst pace {r['pace_excess_max'] * 100:.1f} % beyond slack; lateness p95 max "
            f"{r['lateness_p95_max']:.2f} s; duplicates {r['duplicates']} (near {r['near_duplicates']}); failures by "
            f"criterion: {failures}")
    return text, r["passed"] == r["runs"]


def fig_p3(outcomes: list[Outcome]) -> tuple[str, bool]:
    parts, ok = [], True
    for o in outcomes:
        r = o.result
        label = "tokens bind" if "--prompt-repeat" in o.job.args else "requests bind"
        if r is None:
            parts.append(f"{label}: failed: {o.error}")
            ok = False
            continue
        util = max(r["request_utilisation"], r["token_utilisation"])
        which = "request" if r["request_utilisation"] >= r["token_utilisation"] else "token"
        parts.append(f"{label}: **{util * 100:.1f} %** of the {which} ceiling ({r['admitted']} requests in "
                     f"{r['duration']:.0f} s, {r['token_utilisation'] * 100:.1f} % of tokens), {r['rejected_429']} of "
                     f"{r['requests_sent']} answered 429, {r['lost']} lost")
        ok &= util >= 0.95 and r["rate_429"] <= 0.01 and r["lost"] == 0
    if all(o.result is None for o in outcomes):
        raise RuntimeError("; ".join(str(o.error) for o in outcomes))
    return "; ".join(parts), ok


def fig_p4(outcomes: list[Outcome]) -> tuple[str, bool]:
    r = only_result(outcomes)
    text = (f"**{r['total_tokens_per_message']:.0f} tokens/msg** ({r['prompt_tokens_per_message']:.0f} prompt + "
            f"{r['completion_tokens_per_message']:.0f} completion; {r['calls_per_message']:.3f} calls per message, "
            f"{r['messages_sent']} sent, max {r['max_tokens_per_call']} per call); usage: {r['usage_source']}; "
            f"{r['prompt_chars_per_token']:.2f} prompt characters per token")
    return text, r["total_tokens_per_message"] <= 700


def fig_p5(outcomes: list[Outcome]) -> tuple[str, bool]:
    r = only_result(outcomes)
    c, a = r["crash"], r["restart_all"]
    text = (f"crash: **median {c['median']:.2f} s** (min {c['min']:.2f}, max {c['max']:.2f}); restart-all: "
            f"**median {a['median']:.2f} s** (min {a['min']:.2f}, max {a['max']:.2f}); {r['trials']} trial{'s' * (r['trials'] != 1)} each")
    return text, c["median"] <= 2.0 and a["median"] <= 5.0


def fig_p6(outcomes: list[Outcome]) -> tuple[str, bool]:
    r = only_result(outcomes)
    lat = (f"key → redraw **p95 {r['p95_ms']:.1f} ms** (median {r['median_ms']:.1f}, max {r['max_ms']:.1f}) over "
           f"{r['probes']} probes" if r["p95_ms"] is not None else "no key probe answered")
    if r["probe_failures"]:
        lat += f", {r['probe_failures']} probes failed"
    if r["rss_range_pct"] is not None:
        lo, hi = r["rss_range_pct"]
        rss = f"RSS {r['rss_start_mib']:.1f} → {r['rss_end_mib']:.1f} MiB (range **{lo:+.1f} … {hi:+.1f} %**)"
    else:
        rss = "RSS: no sample after the warm-up"
    return f"{lat}; {rss}; {r['rate']:.1f} events/s for {r['duration']:.0f} s", bool(r["latency_ok"] and r["rss_ok"])


FIGURES: dict[str, Callable[[list[Outcome]], tuple[str, bool]]] = {
    "P1": fig_p1, "P2": fig_p2, "P3": fig_p3, "P4": fig_p4, "P5": fig_p5, "P6": fig_p6, "P7": fig_p7}


def make_row(measure: str, outcomes: list[Outcome], quick: bool) -> Row:
    name, goal = MEASURES[measure]
    reproduce = " and ".join(f"`{o.job.reproduce}`" for o in outcomes)
    row = Row(measure, name, goal, reproduce=reproduce)
    try:
        figure, ok = FIGURES[measure](outcomes)
    except Exception as exc:  # noqa: BLE001 (the script failed, or printed something this parser cannot read)
        reason = str(exc) or type(exc).__name__
        row.figure, row.met = f"failed: {reason}", "—"
        return row
    row.figure = f"quick run, not a goal figure: {figure}" if quick else figure
    row.met = f"({'yes' if ok else 'no'}, quick)" if quick else yes(ok)
    return row


# ── the machine ───────────────────────────────────────────────────────────────────────────────────
def machine(pg: str, redis_url: str) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kib = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                       if ln.startswith("MemTotal")).split()[1])
        ram = f", {kib / 1048576:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores{ram}", f"Python {platform.python_version()}",
             f"SQLite {sqlite3.sqlite_version}"]
    try:
        import psycopg

        with psycopg.connect(pg, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        parts.append(f"PostgreSQL {version.split()[0]}")
    except Exception as exc:  # noqa: BLE001 (any failure: not reachable)
        parts.append(f"PostgreSQL not reachable ({type(exc).__name__})")
    try:
        import redis

        client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
        parts.append(f"Redis {client.info('server')['redis_version']}")
        client.close()
    except Exception as exc:  # noqa: BLE001 (any failure: not reachable)
        parts.append(f"Redis not reachable ({type(exc).__name__})")
    return ", ".join(parts)


# ── the document ──────────────────────────────────────────────────────────────────────────────────
def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parse_rows(block: str) -> dict[str, Row]:
    """The rows of a table in run_all's format (6 columns), by id."""
    rows = {}
    for line in block.splitlines():
        if not line.startswith("| P"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 6 and cells[0] in IDS and cells[3] != "not measured yet":
            rows[cells[0]] = Row(*cells)
    return rows


def render(rows: dict[str, Row], dates: dict[str, str], machine_line: str) -> str:
    lines = [BEGIN, f"<!-- run_all:dates {json.dumps(dates, sort_keys=True)} -->",
             "| Id | Measure | Goal | Figure | Met | Reproduce |", "|---|---|---|---|---|---|"]
    for measure in IDS:
        row = rows.get(measure)
        if row is None:
            name, goal = MEASURES[measure]
            row = Row(measure, name, goal, "not measured yet", "—",
                      " and ".join(f"`{j.reproduce}`" for j in jobs_for(measure, False)))
        lines.append("| " + " | ".join(cell(x) for x in (row.id, row.measure, row.goal, row.figure, row.met,
                                                            row.reproduce)) + " |")
    by_date: dict[str, list[str]] = {}
    for measure in IDS:
        if measure in rows:
            by_date.setdefault(dates.get(measure, "unknown date"), []).append(measure)
    when = "; ".join(f"{', '.join(ids)}: {date}" for date, ids in sorted(by_date.items()))
    lines += ["", (f"Machine: {machine_line}. Measured: {when}. A row is replaced only by a run of "
              "`bench/run_all.py` that includes it (see \"Running all measures\" below).")]
    lines.append(END)
    return "\n".join(lines)


def write_doc(path: Path, new_rows: dict[str, Row], stamp: str, machine_line: str) -> None:
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: the markers {BEGIN} … {END} are missing")
    head, rest = text.split(BEGIN, 1)
    block, tail = rest.split(END, 1)
    rows = parse_rows(block)
    found = DATES.search(block)
    dates: dict[str, str] = json.loads(found.group(1)) if found else {}
    for measure, row in new_rows.items():
        rows[measure] = row
        dates[measure] = stamp
    dates = {k: v for k, v in dates.items() if k in rows}
    path.write_text(head + render(rows, dates, machine_line) + tail, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(IDS), help="comma-separated measures, e.g. P1,P4 (default all)")
    parser.add_argument("--quick", action="store_true",
                        help="short smoke durations; figures are not goal figures; the doc is not written")
    parser.add_argument("--write", action="store_true", help="with --quick: write the doc anyway (rows marked quick)")
    parser.add_argument("--no-write", action="store_true", help="only print the rows")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document to update (default docs/performance.md)")
    parser.add_argument("--echo", action="store_true", help="also print each script's own output")
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test", help="PostgreSQL URL (version only)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL (version only)")
    args = parser.parse_args()
    wanted = [m.strip().upper() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in IDS]
    if unknown:
        parser.error(f"unknown measures {unknown}; known: {', '.join(IDS)}")
    if {"P1", "P7"} & set(wanted):  # one engine run gives both: a row of one must not disagree with the other
        wanted += ["P1", "P7"]
    wanted = [m for m in IDS if m in wanted]

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    started = dt.datetime.now(dt.UTC)
    cache: dict[Job, Outcome] = {}
    rows: dict[str, Row] = {}
    for measure in wanted:
        outcomes = []
        for job in jobs_for(measure, args.quick):
            if job not in cache:
                cache[job] = run_job(job, args.echo)
            outcomes.append(cache[job])
        rows[measure] = make_row(measure, outcomes, args.quick)
        print(f"{measure}: {rows[measure].figure}  [met: {rows[measure].met}]", flush=True)
    machine_line = machine(args.pg, args.redis)
    print(f"machine: {machine_line}")
    stamp = started.strftime("%Y-%m-%d %H:%M UTC") + (f", load average {load:.2f} at the start" if load is not None
                                                      else "") + (", quick" if args.quick else "")
    if args.no_write or (args.quick and not args.write):
        print("doc not written" + (" (--quick: pass --write to write quick rows)" if args.quick else ""))
    else:
        write_doc(args.doc, rows, stamp, machine_line)
        print(f"wrote {args.doc}")
    return 0 if all(not r.figure.startswith("failed") for r in rows.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
