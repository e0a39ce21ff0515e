"""The timeline of every run in an output directory: ``timeline.jsonl`` (one JSON object per run,
appended with one write so concurrent runs never interleave) and its renderings ``timeline.md`` and
``timeline.html``, where each run is compared with the previous run and with the best run before it
(like the seed notes' "| Session | Date | Throughput | Improvement | Notes |" table)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

import pygal

from piyasa_core.bench.html import Markup, chart, figure, note_svg, page, svg, table
from piyasa_core.bench.report import atomic_write
from piyasa_core.bench.writers import fmt, pct

TIMELINE = "timeline.jsonl"
FIELDS = ("id", "started_at", "state", "trigger", "profile", "duration_s", "time_scale", "workers", "provider", "sent",
          "throughput_per_min", "worker_cv", "pace_deviation", "lateness_p95_s", "duplicates", "near_duplicates",
          "l2_hit_rate", "l2_configured", "passed", "git_revision", "run_dir")


class TimelineRows(list[dict[str, Any]]):
    """The runs, oldest first; ``skipped`` holds the line numbers that could not be read."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), skipped: Iterable[int] = ()) -> None:
        super().__init__(rows)
        self.skipped = list(skipped)


def timeline_row(out_dir: Path, report: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The run's line of the timeline."""
    run, l2 = report["run"], report["cache"]["l2"]
    pace = next((c["value"] for c in report["criteria"] if c["id"] == "bot_pace"), None)
    try:
        where = Path(os.path.relpath(Path(run_dir).resolve(), Path(out_dir).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        where = str(run_dir)
    return {
        "id": run["id"], "started_at": run["started_at"], "state": run["state"], "trigger": run["trigger"],
        "profile": run["profile"]["name"],
        "duration_s": run["duration_s"], "time_scale": run["time_scale"], "workers": run["workers"],
        "provider": run["llm"]["provider"], "sent": report["totals"]["sent"],
        "throughput_per_min": report["totals"]["throughput_per_min"], "worker_cv": report["totals"]["worker_cv"],
        "pace_deviation": pace, "lateness_p95_s": report["latency"]["lateness_sim_s"]["p95"],
        "duplicates": report["duplicates"]["same_text"] + report["duplicates"]["sent_twice"],
        "near_duplicates": report["duplicates"]["near"],
        "l2_hit_rate": report["cache"]["warm"]["l2"]["hit_rate"] if l2["configured"] else None,
        "l2_configured": bool(l2["configured"]),
        "passed": bool(report["passed"]), "git_revision": run["git_revision"], "run_dir": where,
    }


def _append_line(path: Path, line: str) -> None:
    """One ``write`` on an ``O_APPEND`` descriptor: the kernel places it at the end in one piece. A
    previous writer that died mid-line is fenced off with a newline (its fragment is then skipped)."""
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    data = b"\n" + data
        written = os.write(fd, data)
        while written < len(data):  # only on exotic file systems; a line is far below PIPE_BUF-like sizes
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def append_run(out_dir: Path, report: dict[str, Any], run_dir: Path) -> None:
    """Add the run to ``timeline.jsonl`` and re-render ``timeline.md`` / ``timeline.html``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    row = timeline_row(out_dir, report, run_dir)
    _append_line(out_dir / TIMELINE, json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    rows = load_timeline(out_dir)
    atomic_write(out_dir / "timeline.md", render_timeline_markdown(rows))
    atomic_write(out_dir / "timeline.html", render_timeline_html(rows))


def load_timeline(out_dir: Path) -> TimelineRows:
    """Every readable run, oldest first; unreadable lines are skipped and their numbers kept."""
    path = Path(out_dir) / TIMELINE
    if not path.exists():
        return TimelineRows()
    rows, skipped = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            rows.append(row)
        else:
            skipped.append(number)
    return TimelineRows(rows, skipped)


# ── comparisons ──────────────────────────────────────────────────────────────────────────────────
def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def compare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each run: the previous run and the best completed run before it (highest throughput) of
    the same profile (rows from before profiles existed form a group of their own), and whether it set
    a new best. Runs of different profiles are never compared: their pace differs by design."""
    out: list[dict[str, Any]] = []
    prev: dict[str, dict[str, Any]] = {}
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = str(row.get("profile") or "")
        rate = _num(row.get("throughput_per_min"))
        top = best.get(group)
        best_rate = _num(top.get("throughput_per_min")) if top else None
        record = row.get("state") == "completed" and rate is not None and (best_rate is None or rate > best_rate)
        out.append({"row": row, "prev": prev.get(group), "best": top, "record": record and top is not None})
        prev[group] = row
        if record:
            best[group] = row
    return out


def throughput_delta(new: dict[str, Any], old: dict[str, Any] | None) -> str:
    """``×1.80 (+1.20)``: ratio and difference of msg/min; ``baseline`` without a run to compare with."""
    if old is None:
        return "baseline"
    a, b = _num(new.get("throughput_per_min")), _num(old.get("throughput_per_min"))
    if a is None or b is None:
        return "–"
    return (f"×{a / b:.2f} " if b > 0 else "") + f"({a - b:+.2f})"



def _result(row: dict[str, Any]) -> str:
    if row.get("state") == "cancelled":
        return "⏹ cancelled"
    return "✅ passed" if row.get("passed") else "❌ failed"


def _notes(c: dict[str, Any]) -> str:
    row = c["row"]
    duration = _num(row.get("duration_s"))
    scale = _num(row.get("time_scale"))
    parts = [f"{row.get('workers', '?')} workers", str(row.get("provider") or "?"),
             (f"{duration / 60:g} min" if duration is not None else "? min")
             + (f" ×{scale:g}" if scale is not None else ""), str(row.get("trigger") or "?"),
             f"git {row.get('git_revision') or 'unknown'}"]
    if c["record"]:
        parts.insert(0, "new best")
    return ", ".join(parts)


def _cells(c: dict[str, Any], number: int) -> list[str]:
    row = c["row"]
    l2 = pct(_num(row.get("l2_hit_rate"))) if row.get("l2_configured") else "not configured"
    pace = _num(row.get("pace_deviation"))
    return [str(number), str(row.get("id")), str(row.get("started_at") or "–")[:19].replace("T", " "),
            str(row.get("profile") or "–"), _result(row),
            fmt(_num(row.get("throughput_per_min"))), throughput_delta(row, c["prev"]),
            throughput_delta(row, c["best"]), "–" if pace is None else pct(pace), fmt(_num(row.get("lateness_p95_s"))),
            fmt(_num(row.get("worker_cv")), 3), fmt(row.get("duplicates")), l2, _notes(c)]


HEADERS = ["#", "Run", "Date (UTC)", "Profile", "Result", "Throughput (msg/min)", "vs previous", "vs best",
           "Worst pace deviation", "Lateness p95 (s)", "Worker CV", "Duplicates", "L2 hit rate (warm)", "Notes"]


def _summary(rows: list[dict[str, Any]]) -> str:
    done = [r for r in rows if r.get("state") == "completed" and _num(r.get("throughput_per_min")) is not None]
    if not done:
        return f"{len(rows)} run(s); no completed run yet."
    best = max(done, key=lambda r: _num(r["throughput_per_min"]) or 0.0)
    return (f"{len(rows)} run(s); best completed run {best['id']} at {fmt(_num(best['throughput_per_min']))} msg/min"
            f" (worker CV {fmt(_num(best.get('worker_cv')), 3)}).")


def _skipped_note(rows: list[dict[str, Any]]) -> str:
    skipped = getattr(rows, "skipped", [])
    if not skipped:
        return ""
    return (f"{len(skipped)} unreadable line(s) in {TIMELINE} skipped (line "
            f"{', '.join(map(str, skipped[:20]))}{', …' if len(skipped) > 20 else ''}).")


def render_timeline_markdown(rows: list[dict[str, Any]]) -> str:
    """The timeline as a Markdown table (``rows`` from :func:`load_timeline`)."""
    lines = ["# Benchmark timeline", "",
             ("Every run written to this directory, oldest first. \"vs previous\" compares with the run before of "
              "the same profile, \"vs best\" with its completed run of highest throughput before it (ratio, then "
              "difference); runs of other profiles are not compared."), "",
             _summary(rows), ""]
    if note := _skipped_note(rows):
        lines += [f"> ⚠️ {note}", ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for number, c in enumerate(compare(rows), 1):
        cells = _cells(c, number)
        cells[1] = f"[{cells[1]}]({c['row'].get('run_dir') or cells[1]}/)"
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def render_timeline_html(rows: list[dict[str, Any]]) -> str:
    """The timeline as a self-contained page with a chart of throughput and worker CV across runs."""
    compared = compare(rows)
    caption = "Throughput (left axis) and worker balance CV (right axis) of every run, oldest first."
    if compared:
        g = chart(pygal.Line, "Throughput across runs", x_title="run", y_title="msg/min",
                  include_x_axis=True)
        g.x_labels = [f"#{i} {str(c['row'].get('started_at') or '')[:10]}" for i, c in enumerate(compared, 1)]
        g.add("throughput (msg/min)", [_num(c["row"].get("throughput_per_min")) for c in compared])
        cv = [_num(c["row"].get("worker_cv")) for c in compared]
        if any(v is not None for v in cv):  # pygal cannot scale an axis with no value (a run that sent nothing)
            g.add("worker CV (right axis)", cv, secondary=True)
        drawing = svg(g)
    else:
        drawing = note_svg("no runs yet")
    note = _skipped_note(rows)
    cells = []
    for n, c in enumerate(compared, 1):
        row = _cells(c, n)
        target = str(c["row"].get("run_dir") or row[1])
        link = escape(row[1]) if ":" in target else f'<a href="{escape(target)}/">{escape(row[1])}</a>'
        cls = "cancelled" if c["row"].get("state") == "cancelled" else "pass" if c["row"].get("passed") else "fail"
        word = {"cancelled": "cancelled", "pass": "PASS", "fail": "FAIL"}[cls]  # words: no emoji font needed
        cells.append([row[0], Markup(link), *row[2:4], Markup(f'<span class="badge {cls}">{word}</span>'), *row[5:]])
    body = ["<h1>Benchmark timeline</h1>", f"<p>{escape(_summary(rows))}</p>",
            f"<p class=muted>Note: {escape(note)}</p>" if note else "",
            figure("chart-timeline", caption, drawing),
            table(HEADERS, cells, numeric=(0, 5, 8, 9, 10, 11))]
    return page("Benchmark timeline", "\n".join(body))
