"""The self-contained HTML report: every table of the Markdown report plus charts drawn by pygal as
inline SVG. Nothing is fetched when the page opens: no external CSS, script, font or image (pygal's
tooltip script and its comments are stripped; the only URIs left are the SVG namespace)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import pygal

from piyasa_core.bench.writers import (
    criterion_status,
    fmt,
    headroom_text,
    latency_rows,
    llm_line,
    pct,
    signed_pct,
    verdict,
)

WIDTH, HEIGHT = 900, 340
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "max")
NO_QUOTA = "no quota reported (offline provider has no limits)"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1000px;
padding:1rem 1.5rem;color:#1d2430;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.4rem 0;font-size:13px}th,td{border:1px solid #d5d9e0;padding:.2rem .5rem;
text-align:left;vertical-align:top}th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:4px;font-weight:600;color:#fff}
.pass{background:#1f883d}.fail{background:#cf222e}.cancelled,.warn{background:#9a6700}.skip{background:#6e7781}
figure{margin:1rem 0;border:1px solid #e3e6eb;border-radius:6px;padding:.5rem}
figure svg{width:100%;height:auto;display:block}figcaption{font-size:12px;color:#57606a;margin-top:.3rem}
.muted{color:#57606a}code{background:#f2f4f7;padding:0 .25rem;border-radius:3px}
"""
STYLE = pygal.style.Style(
    background="transparent", plot_background="#fafbfc", foreground="#1d2430", foreground_strong="#1d2430",
    foreground_subtle="#8c959f", font_family='system-ui, "Segoe UI", Roboto, sans-serif', title_font_size=15,
    legend_font_size=12, label_font_size=11, major_label_font_size=11, no_data_font_size=16,
    colors=("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf"))
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)


# ── building blocks (the timeline page uses them too) ────────────────────────────────────────────
def e(value: Any) -> str:
    """Escaped text; None shows as an en dash like the Markdown report."""
    return escape(fmt(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Iterable[int] = ()) -> str:
    """A table of escaped cells (pre-rendered HTML cells are passed as ``Markup``)."""
    right = set(numeric)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td{' class=n' if i in right else ''}>{c if isinstance(c, Markup) else e(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """HTML that is already escaped (a cell built from escaped parts)."""


BADGE = {"pass": ("pass", "PASS"), "fail": ("fail", "FAIL"), "not_configured": ("skip", "not configured"),
         "pending": ("skip", "pending")}


def status_badge(c: dict[str, Any]) -> Markup:
    """A criterion's result as a coloured word (no emoji: a page without an emoji font showed empty boxes)."""
    if not c.get("required", True) and c["status"] in ("pass", "fail"):
        cls, word = ("pass", "target met") if c["status"] == "pass" else ("warn", "target not met")
    else:
        cls, word = BADGE.get(c["status"], ("skip", str(c["status"])))
    return Markup(f'<span class="badge {cls}">{escape(word)}</span>')


def number(v: float | None) -> str:
    """Axis and value labels: 0.002, 4.5, 12, 6,000."""
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:.3g}"


def chart(kind: type[Any], title: str, **config: Any) -> Any:
    """A pygal chart that renders to standalone SVG without scripts."""
    base = {"js": [], "disable_xml_declaration": True, "show_legend": True, "legend_at_bottom": True,
            "width": WIDTH, "height": HEIGHT, "title": title, "truncate_legend": -1, "value_formatter": number,
            "style": STYLE}
    return kind(**(base | config))


def svg(graph: Any) -> str:
    """The chart's inline SVG: pygal's tooltip script (useless without its external file) and its
    comments (which carry pygal's web address) are removed."""
    return _SCRIPT.sub("", _COMMENT.sub("", graph.render(is_unicode=True)))


def note_svg(text: str, width: int = WIDTH) -> str:
    """A one-line SVG standing in for a chart that has nothing to draw."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 60" role="img" class="empty">'
            f'<rect width="{width}" height="60" rx="6" fill="#f6f8fa"/><text x="{width // 2}" y="35" '
            f'text-anchor="middle" font-family="system-ui, sans-serif" font-size="15" fill="#57606a">'
            f"{escape(text)}</text></svg>")


def figure(fig_id: str, caption: str, *svgs: str) -> str:
    return f'<figure id="{escape(fig_id)}">{"".join(svgs)}<figcaption>{escape(caption)}</figcaption></figure>'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


# ── the charts ───────────────────────────────────────────────────────────────────────────────────
def _minutes(sample: dict[str, Any]) -> float:
    return round(float(sample["t_sim"]) / 60, 3)


def _rate(hits: float, misses: float) -> float | None:
    return hits / (hits + misses) * 100 if hits + misses else None


def _timed(title: str, samples: list[dict[str, Any]], **config: Any) -> Any:
    """An XY chart over simulated minutes, from 0 to the last sample."""
    end = max((_minutes(s) for s in samples), default=1.0) or 1.0
    return chart(pygal.XY, title, x_title="simulated minutes", xrange=(0, end), **config)


def workers_chart(report: dict[str, Any]) -> str:
    samples = report["samples"]
    caption = ("Messages the transport accepted per worker over simulated time (cumulative, counted in the "
               "database at each sample).")
    if not samples:
        return figure("chart-workers", caption, note_svg("no samples taken"))
    g = _timed("Messages sent per worker (cumulative)", samples, y_title="messages", include_x_axis=True)
    for i in range(report["run"]["workers"]):
        g.add(f"worker {i}", [(0.0, 0)] + [(_minutes(s), (s["sent_per_worker"] + [0] * (i + 1))[i])
                                           for s in samples])
    return figure("chart-workers", caption, svg(g))


def throughput_chart(report: dict[str, Any]) -> str:
    samples = report["samples"]
    caption = ("Messages per simulated minute: the running average since the start of the run, the rate within "
               "each sample interval, and the criteria's thresholds (dashed).")
    if not samples:
        return figure("chart-throughput", caption, note_svg("no samples taken"))
    g = _timed("Throughput (msg/min)", samples, y_title="msg/min", include_x_axis=True)
    g.add("since the start", [(_minutes(s), s["throughput_per_min"]) for s in samples])
    interval, t0, n0 = [], 0.0, 0
    for s in samples:
        t = float(s["t_sim"])
        interval.append((_minutes(s), (s["sent"] - n0) / ((t - t0) / 60) if t > t0 else None))
        t0, n0 = t, s["sent"]
    g.add("per sample interval", interval)
    for c in report["criteria"]:
        if c["id"] in ("throughput_min", "throughput_target") and c["threshold"] is not None:
            label = "minimum" if c["id"] == "throughput_min" else "target"
            g.add(f"{label} {number(c['threshold'])}", [(0.0, c["threshold"]), (_minutes(samples[-1]), c["threshold"])],
                  show_dots=False, stroke_style={"dasharray": "6,4"})
    return figure("chart-throughput", caption, svg(g))


def latency_chart(report: dict[str, Any]) -> str:
    parts = []
    for key, title, unit in (("llm_s", "LLM generation", "s, real"), ("lateness_sim_s", "lateness", "s, simulated")):
        d = report["latency"][key]
        if not d.get("count"):
            parts.append(note_svg(f"{title}: nothing measured", WIDTH // 2))
            continue
        g = chart(pygal.Bar, f"{title} ({unit}), {d['count']} messages", y_title=f"seconds ({unit})",
                  show_legend=False, width=WIDTH // 2, print_values=True)
        g.x_labels = list(LATENCY_KEYS)
        g.add(title, [d.get(k) for k in LATENCY_KEYS])
        parts.append(svg(g))
    return figure("chart-latency", "Latency percentiles (nearest rank): LLM generation time in real seconds; "
                  "lateness in simulated seconds, from the time a message was due (plus its typing time) to the "
                  "transport accepting it.",
                  '<div style="display:grid;grid-template-columns:1fr 1fr;gap:.5rem">' + "".join(parts) + "</div>")


def cache_chart(report: dict[str, Any]) -> str:
    samples, l2_on = report["samples"], report["cache"]["l2"]["configured"]
    note = "L1 and L2 hit rates" if l2_on else "L1 hit rate; L2: not configured (no Redis), so it is not measured"
    caption = f"{note}, from the cumulative cache counters of every worker at each sample (dashed: per interval)."
    series = []
    for layer in ("l1", "l2") if l2_on else ("l1",):
        total, interval, h0, m0 = [], [], 0, 0
        for s in samples:
            h, m = s["cache"].get(f"{layer}_hits", 0), s["cache"].get(f"{layer}_misses", 0)
            total.append((_minutes(s), _rate(h, m)))
            interval.append((_minutes(s), _rate(h - h0, m - m0)))
            h0, m0 = h, m
        series += [(f"{layer.upper()} since the start", total, {}),
                   (f"{layer.upper()} per interval", interval, {"stroke_style": {"dasharray": "4,3"}})]
    if not any(v is not None for _, points, _ in series for _, v in points):
        return figure("chart-cache", caption, note_svg("no cache lookups" + ("" if l2_on else "; L2 not configured")))
    g = _timed("Cache hit rate (%)" + ("" if l2_on else " — L2 not configured"), samples, y_title="hit rate %",
               range=(0, 100))
    for title, points, options in series:
        g.add(title, points, **options)
    return figure("chart-cache", caption, svg(g))


def quota_chart(report: dict[str, Any]) -> str:
    samples = report["samples"]
    names = sorted({n for s in samples for n in s.get("providers", {})})
    series = []
    for name in names:
        for field, label, secondary in (("remaining_requests", "requests left", False),
                                        ("remaining_tokens", "tokens left (right axis)", True)):
            points = [(_minutes(s), s.get("providers", {}).get(name, {}).get(field)) for s in samples]
            if any(v is not None for _, v in points):
                series.append((f"{name} {label}", points, secondary))
    if not series:
        return figure("chart-quota", NO_QUOTA.capitalize() + ".", note_svg(NO_QUOTA))
    g = _timed("Remaining provider quota", samples, y_title="requests left", include_x_axis=True)
    for title, points, secondary in series:
        g.add(title, points, secondary=secondary)
    return figure("chart-quota", "Remaining requests and tokens each provider reported (rate-limit headers) at "
                  "every sample.", svg(g))


# ── the page ─────────────────────────────────────────────────────────────────────────────────────
def _kv(pairs: Iterable[tuple[str, Any]]) -> str:
    return "<table><tbody>" + "".join(f"<tr><th>{escape(k)}</th><td>{e(v)}</td></tr>" for k, v in pairs) + \
        "</tbody></table>"


def _criterion_value(c: dict[str, Any], key: str) -> str:
    return pct(c[key]) if c["id"] == "l2_hit_rate" else fmt(c[key], 3 if key == "value" else 2)


def render_html(report: dict[str, Any]) -> str:
    run, totals, cache = report["run"], report["totals"], report["cache"]
    state = "cancelled" if run["state"] == "cancelled" else "pass" if report["passed"] else "fail"
    cfg, host = run["config"], run["host"]
    out = [f"<h1>Benchmark {escape(run['id'])} <span class=\"badge {state}\">{escape(verdict(report))}</span></h1>",
           f"<p class=muted>schema <code>{escape(report['schema'])}</code></p>", "<h2>Run</h2>", _kv([
               ("started", f"{run['started_at']} ({run['trigger']})"), ("finished", run["finished_at"]),
               ("simulated", (f"{run['elapsed_sim_s'] / 60:.1f} of {run['duration_s'] / 60:g} min from "
                              f"{run['sim_started_at']} at ×{run['time_scale']:g}, "
                              f"sample every {run['sample_every_s']:g} s")),
               ("real time", f"{run['real_seconds']:.1f} s"), ("workers", run["workers"]),
               ("profile", f"{run['profile']['name']}: {run['profile']['hourly_min']}–{run['profile']['hourly_max']} "
                           f"per bot per hour; {run['profile']['description']}"),
               ("generation", llm_line(run["llm"])), ("chats of the run", ", ".join(run["scope"]["chats"])),
               ("providers", f"active {run['providers']['active']}; " + ", ".join(
                   f"{k} {v}" for k, v in run["providers"]["states"].items())),
               ("LLM", f"{cfg['llm']['active']}, fallback {', '.join(cfg['llm']['fallback']) or 'none'}; models "
                       + ", ".join(f"{k} {v}" for k, v in cfg["llm"]["models"].items())),
               ("database", cfg["database"]), ("L2 cache", cfg["redis"] or "not configured"),
               ("transport", cfg["transport"]), ("bots / chats", f"{cfg['bots_enabled']} / {cfg['chats']}"),
               ("engine", ", ".join(f"{k} {v}" for k, v in cfg["engine"].items())),
               ("version", f"{run['version']}, git {run['git_revision'] or 'unknown'}"),
               ("host", f"{host['name']} — {host['platform']}, Python {host['python']}, {host['cpus']} CPUs")])]
    out += ["<h2>Criteria</h2>", table(["Criterion", "Result", "Value", "Threshold", "Detail"], (
        [c["name"], status_badge(c), _criterion_value(c, "value"), f"{c['op']} {_criterion_value(c, 'threshold')}",
         c["detail"]] for c in report["criteria"]), numeric=(2,))]
    out += ["<h2>Throughput</h2>",
            (f"<p>{totals['sent']} messages sent ({e(totals['throughput_per_min'])} msg/min), {totals['failed']} "
             f"failed, {totals['pending']} still pending at the end.</p>"),
            workers_chart(report), throughput_chart(report),
            '<div style="display:flex;gap:1.5rem;flex-wrap:wrap">',
            table(["Worker", "Sent"], enumerate(totals["per_worker"]), numeric=(1,)),
            table(["Chat", "Sent"], totals["per_chat"].items(), numeric=(1,)), "</div>"]
    pace = report["pace"]
    out += ["<h2>Pace against plan</h2>",
            (f"<p>Planned from each persona's pace ({pace['hourly_min']}–{pace['hourly_max']} per hour, by speed, "
             f"prime hours a quarter higher) over {pace['window_s'] / 60:.1f} simulated minutes; a count may differ "
             f"by {pace['slack_messages']:g} message before it deviates.</p>"),
            table(["Bot", "persona", "speed", "worker", "planned", "delivered", "planned/h", "delivered/h", "deviation"], (
                [b["bot"], b["persona"], b["speed"], b["worker"], fmt(b["planned"], 1), b["delivered"],
                 fmt(b["planned_per_hour"], 1), fmt(b["delivered_per_hour"], 1), signed_pct(b["deviation"])]
                for b in pace["bots"]), numeric=range(3, 9)),
            table(["Worker", "bots", "planned", "delivered", "deviation"], (
                [w["worker"], ", ".join(w["bots"]) or "–", fmt(w["planned"], 1), w["delivered"],
                 signed_pct(w["deviation"])] for w in pace["workers"]), numeric=(2, 3, 4))]
    room = report["capacity"]["headroom"]
    out += ["<h2>Latency and capacity</h2>", table(["Measure", "count", *LATENCY_KEYS], (
        [name, d.get("count", 0), *(fmt(d.get(k), 3) for k in LATENCY_KEYS)]
        for name, d in latency_rows(report["latency"])), numeric=range(1, 7)), latency_chart(report),
        f"<p>Headroom ({escape(room['method'])}): {escape(headroom_text(room))}. Workers' CPU over the window: "
        f"{e(room['cpu_seconds'])} s in {e(room['real_seconds'])} s real ({e(room['cpu_ms_per_message'])} ms per "
        "message).</p>"]
    out += ["<h2>Tokens</h2>", table(["Provider", "messages", "in", "out", "cached"], (
        [p, t["messages"], t["in"], t["out"], t["cached"]] for p, t in report["tokens"].items()),
        numeric=range(1, 5)) if report["tokens"] else "<p>no tokens counted</p>", quota_chart(report)]
    l1, l2 = cache["l1"], cache["l2"]
    cold, warm, saved = cache["cold"], cache["warm"], cache["saved"]
    out += ["<h2>Cache</h2>", table(["Layer", "hit rate", "cold (warm-up)", "warm (window)", "hits", "misses", "errors"], [
        ["L1 (in-process)", pct(l1["hit_rate"]), pct(cold["l1"]["hit_rate"]), pct(warm["l1"]["hit_rate"]), l1["hits"],
         l1["misses"], "–"],
        ["L2 (Redis)", *([pct(l2["hit_rate"]), pct(cold["l2"]["hit_rate"]), pct(warm["l2"]["hit_rate"]), l2["hits"],
                          l2["misses"], l2["errors"]] if l2["configured"]
                         else ["not configured", "–", "–", "–", "–", "–"])]], numeric=range(1, 7)),
            table(["Cached", "lookups", "L1 hits", "L2 hits", "loads", "loads avoided", "mean load ms", "saved ms"], (
                [k, v["lookups"], v["l1_hits"], v["l2_hits"], v["loads"], v["loads_avoided"], fmt(v["mean_load_ms"], 3),
                 fmt(v["saved_ms"], 1)] for k, v in cache["kinds"].items()), numeric=range(1, 8)),
            (f"<p>Saved over the window: {saved['database_reads_avoided']} database reads, {e(saved['ms_total'])} ms "
             f"({e(saved['ms_per_message'])} ms per message).</p>"), cache_chart(report)]
    errors, restarts, dup = report["errors"], report["restarts"], report["duplicates"]
    perr = [[p, k, v] for p, errs in errors["provider"].items() for k, v in errs.items()]
    out += ["<h2>Errors and restarts</h2>",
            table(["Provider", "error", "count"], perr, numeric=(2,)) if perr else "<p>provider errors: none</p>",
            table(["Send failure", "count"], errors["telegram"].items(), numeric=(1,)) if errors["telegram"]
            else "<p>send failures: none</p>",
            f"<p>worker crash restarts: {restarts['crash_restarts']}"
            + (f" (workers {e(', '.join(map(str, restarts['crashed_workers'])))})" if restarts["crashed_workers"]
               else "") + "</p>",
            table(["Engine outcome", "count"], ((k, v) for k, v in errors["engine"].items() if v), numeric=(1,)),
            f"<p>duplicates: {dup['same_text']} same text in a chat, {dup['sent_twice']} rows sent twice; "
            f"{dup['near']} near duplicates (reported, not a criterion)</p>"]
    if dup["near_examples"]:
        out.append(table(["Near duplicate", "score", "earlier", "later"], (
            [", ".join(map(str, x["message_ids"])), x["score"], x["texts"][0], x["texts"][1]]
            for x in dup["near_examples"])))
    if dup["examples"]:
        out.append(table(["Kind", "Messages", "Chat", "Sends"], (
            [x.get("kind"), ", ".join(map(str, x.get("message_ids") or [x.get("message_id")])), x.get("chat"),
             x.get("sends")] for x in dup["examples"])))
    q = report["quality"]
    out += ["<h2>Quality</h2>", _kv([(k.replace("_", " "), q.get(k)) for k in (
        "messages", "bot_messages", "bot_to_bot_reply_rate", "human_reply_count", "distinct_3gram_ratio",
        "top_topic_share", "artifact_count", "distinct_system_prompts", "duplicates", "answered_question_rate",
        "question_replies", "human_questions", "human_questions_with_answer", "replies_per_human_question",
        "max_bots_per_human_question_10min", "addressed_human_questions", "addressed_answered_first",
        "unanswered_repeat_rate", "near_duplicate_rate", "echoed_price_rate", "misdirected_pleasantries", "mention_rate", "self_mentions", "harmony_errors",
        "time_phrase_violations", "sign_offs", "sign_off_then_spoke")] + [
        ("topic spread", ", ".join(f"{k} {v:.0%}" for k, v in (q.get("topic_spread") or {}).items()) or None)])]
    if q.get("artifact_examples"):
        out.append(table(["Artifact example", "artifacts"], ([t, ", ".join(a)] for t, a in q["artifact_examples"])))
    if q.get("answer_examples"):
        out.append(table(["Question", "Reply", "Answers it"], (
            [qt, rt, "yes" if ok else "no"] for qt, rt, ok in q["answer_examples"])))
    return page(f"Benchmark {run['id']} — {verdict(report)}", "\n".join(out))
