"""The plain report formats: JSON (the schema), Markdown (for people and PRs), CSV (time series)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any

STATUS_MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "not_configured": "➖ not configured", "pending": "… pending"}


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (no pipe, no line break)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def criterion_status(c: dict[str, Any]) -> str:
    """`✅ pass`, `❌ FAIL`, or for the reported-only target `met` / `not met`."""
    if not c.get("required", True) and c["status"] in ("pass", "fail"):
        return "🎯 met" if c["status"] == "pass" else "⚠️ not met (target)"
    return STATUS_MARK.get(c["status"], c["status"])


def signed_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f} %"


def llm_line(llm: dict[str, Any]) -> str:
    """``groq (llama-3.3-70b), real time`` or ``offline (templates-v1, latency 400 ms emulated), ×60``."""
    what = llm["model"] + (f", latency {llm['emulated_latency_ms']:g} ms emulated" if not llm["networked"] else "")
    return f"{llm['provider']} ({what}), " + ("scaled clock" if llm["time_scaled"] else "real time")


def latency_rows(latency: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The latency table's rows: generation (all, then per provider), due → sent, lateness."""
    rows = [("LLM generation (s, real)", latency["llm_s"])]
    rows += [(f"  {name} (s, real)", d) for name, d in latency["llm_s_by_provider"].items()]
    rows += [("due → sent (s, simulated)", latency["end_to_end_sim_s"]),
             ("lateness: due → sent less typing (s, simulated)", latency["lateness_sim_s"])]
    return rows


def headroom_text(room: dict[str, Any]) -> str:
    if room["value"] is None:
        return "not derived (nothing was measured)"
    others = ", ".join(f"{k} ×{v:g}" for k, v in room["bounds"].items())
    return f"×{room['value']:g}, bound by {room['bound']} ({others})"


def verdict(report: dict[str, Any]) -> str:
    if report["run"]["state"] == "cancelled":
        return "CANCELLED (partial report)"
    return "PASSED" if report["passed"] else "FAILED"


def conversation_line(q: dict[str, Any]) -> str:
    """The realism measures of a report's quality section, as one line (docs/engine.md defines them)."""
    return (f"answered {fmt(q.get('answered_question_rate'))} of {q.get('question_replies', 0)} replies to a "
            f"question; people asked {q.get('human_questions', 0)}, answered {q.get('human_questions_with_answer', 0)}, "
            f"{fmt(q.get('replies_per_human_question'))} replies each, at most "
            f"{q.get('max_bots_per_human_question_10min', 0)} bots in 10 min, addressed bot first "
            f"{q.get('addressed_answered_first', 0)}/{q.get('addressed_human_questions', 0)}; unanswered repeats "
            f"{fmt(q.get('unanswered_repeat_rate'))}, near duplicates {fmt(q.get('near_duplicate_rate'))}, echoed prices "
            f"{fmt(q.get('echoed_price_rate'))}, misdirected thanks {q.get('misdirected_pleasantries', 0)}, bot-to-bot "
            f"replies {fmt(q.get('bot_to_bot_reply_rate'))}, mentions {fmt(q.get('mention_rate'))} (self "
            f"{q.get('self_mentions', 0)}), harmony errors {q.get('harmony_errors', 0)}, time-phrase violations "
            f"{q.get('time_phrase_violations', 0)}, goodbyes {q.get('sign_offs', 0)} (spoke again within the hour "
            f"{q.get('sign_off_then_spoke', 0)})")


def plan_lines(plan: dict[str, Any] | None) -> list[str]:
    """The day's LLM plan as the run ended (a chain without daily quotas plans nothing)."""
    if not plan or plan.get("affordable") is None:
        return ["", "## The day's LLM plan", "", "- no daily quota in the chain: nothing to plan"]
    lines = ["", "## The day's LLM plan", "",
             f"- every bot at ×{plan['scale']:.2f} of its pace, {plan['planned_per_hour']:.1f} msg/h; "
             f"{plan['affordable']:.0f} bot messages affordable today, {plan['reserve']:.0f} kept for people; "
             f"{plan['tokens_per_message']:.0f} tokens per message",
             "", "| Provider | tokens today | requests today | messages left | planned msg/h | lasts until |",
             "|---|---|---|---|---|---|"]
    for p in plan.get("providers", ()):
        lasts = "the day's end" if p["lasts_until"] is None else \
            datetime.fromtimestamp(p["lasts_until"], timezone.utc).strftime("%H:%M UTC")
        lines.append(f"| {p['name']} | {p['used_tokens']}/{p['tpd'] or '–'} | {p['used_requests']}/{p['rpd'] or '–'} | "
                     f"{fmt(p['affordable_left'], 0)} | {fmt(p['planned_per_hour'], 1)} | {lasts} |")
    if plan.get("warning"):
        lines.append(f"\n**Warning:** {plan['warning']}")
    return lines


def people_lines(people: dict[str, Any] | None) -> list[str]:
    """The people's questions and the bots' replies, for the markdown report."""
    if not people or not people.get("questions"):
        return []
    lines = ["", "## People's questions", "",
             f"A person asked every {fmt((people.get('every_s') or 0) / 60, 1)} simulated minutes "
             f"({people['asked']} questions).", ""]
    for q in people["questions"]:
        addressed = f"@{q['addressed']}" if q["addressed"] else "the group"
        lines.append(f"- {q['at'][11:16]} UTC, {cell(q['chat'])}, {cell(q['asker'])} to {addressed}: "
                     f"“{cell(q['text'])}”")
        lines += [f"  - {r['bot']} after {r['after_s']:g} s: “{cell(r['text'])}”" for r in q["replies"]]
        if not q["replies"]:
            lines.append("  - no reply")
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    run, totals = report["run"], report["totals"]
    lines = [
        f"# Benchmark {run['id']} — {verdict(report)}",
        "",
        f"- started {run['started_at']} ({run['trigger']}), {run['elapsed_sim_s'] / 60:.1f} of "
        f"{run['duration_s'] / 60:g} simulated minutes at ×{run['time_scale']:g} ({run['real_seconds']:.1f} s real)",
        f"- profile **{run['profile']['name']}**: {run['profile']['hourly_min']}–{run['profile']['hourly_max']} "
        f"messages per bot per hour; {run['profile']['description'] or 'no description'}",
        f"- {run['workers']} workers, provider {llm_line(run['llm'])}, "
        f"database {run['config']['database']}, L2 {run['config']['redis'] or 'not configured'}",
        f"- chats of the run: {', '.join(run['scope']['chats']) or 'none'}",
        f"- version {run['version']}, git {run['git_revision'] or 'unknown'}, host {run['host']['name']} "
        f"({run['host']['cpus']} CPUs, Python {run['host']['python']})",
        "",
        "## Criteria",
        "",
        "| Criterion | Result | Value | Threshold | Detail |",
        "|---|---|---|---|---|",
    ]
    for c in report["criteria"]:
        value = pct(c["value"]) if c["id"] == "l2_hit_rate" else fmt(c["value"], 3)
        threshold = pct(c["threshold"]) if c["id"] == "l2_hit_rate" else fmt(c["threshold"])
        lines.append(f"| {cell(c['name'])} | {criterion_status(c)} | {value} | {c['op']} {threshold} | "
                     f"{cell(c['detail'])} |")
    lines += ["", "## Throughput", "",
              f"{totals['sent']} messages sent ({fmt(totals['throughput_per_min'])} msg/min), "
              f"{totals['failed']} failed, {totals['pending']} still pending at the end.", "",
              "| Worker | Sent |", "|---|---|"]
    lines += [f"| {i} | {n} |" for i, n in enumerate(totals["per_worker"])]
    lines += ["", "| Chat | Sent |", "|---|---|"] + [f"| {cell(c)} | {n} |" for c, n in totals["per_chat"].items()]
    pace = report["pace"]
    lines += ["", "## Pace against plan", "",
              f"Planned from each persona's pace ({pace['hourly_min']}–{pace['hourly_max']} per hour, by speed, "
              f"prime hours a quarter higher) over {pace['window_s'] / 60:.1f} simulated minutes; a count may "
              f"differ by {pace['slack_messages']:g} message before it deviates.", "",
              "Answers to people come on top of the plan, within the hourly cap (*expected*).", "",
              "| Bot | persona | speed | worker | planned | answers to people | expected | delivered | planned/h | "
              "delivered/h | deviation |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {cell(b['bot'])} | {b['persona']} | {b['speed']} | {b['worker']} | {fmt(b['planned'], 1)} | "
              f"{b.get('answers_to_people', 0)} | {fmt(b.get('expected', b['planned']), 1)} | "
              f"{b['delivered']} | {fmt(b['planned_per_hour'], 1)} | {fmt(b['delivered_per_hour'], 1)} | "
              f"{signed_pct(b['deviation'])} |" for b in pace["bots"]]
    lines += ["", "| Worker | bots | expected | delivered | deviation |", "|---|---|---|---|---|"]
    lines += [f"| {w['worker']} | {cell(', '.join(w['bots']) or '–')} | {fmt(w['planned'], 1)} | {w['delivered']} | "
              f"{signed_pct(w['deviation'])} |" for w in pace["workers"]]
    lines += ["", "## Latency", "", "| Measure | count | p50 | p90 | p95 | p99 | max |", "|---|---|---|---|---|---|---|"]
    for name, d in latency_rows(report["latency"]):
        lines.append(f"| {name} | {d['count']} | " + " | ".join(fmt(d[k], 3) for k in ("p50", "p90", "p95", "p99", "max"))
                     + " |")
    room = report["capacity"]["headroom"]
    lines += ["", "## Capacity", "",
              f"- headroom ({room['method']}): {headroom_text(room)}",
              f"- workers' CPU over the window: {fmt(room['cpu_seconds'], 2)} s in {fmt(room['real_seconds'], 1)} s "
              f"real ({fmt(room['cpu_ms_per_message'], 2)} ms per message)"]
    lines += plan_lines(report["run"].get("day_plan"))
    lines += ["", "## Tokens", "", "| Provider | messages | in | out | cached |", "|---|---|---|---|---|"]
    lines += [f"| {p} | {t['messages']} | {t['in']} | {t['out']} | {t['cached']} |" for p, t in report["tokens"].items()]
    cache = report["cache"]
    l2 = cache["l2"]
    lines += ["", "## Cache", "",
              f"- L1: {pct(cache['l1']['hit_rate'])} ({cache['l1']['hits']} hits, {cache['l1']['misses']} misses); "
              f"cold (warm-up) {pct(cache['cold']['l1']['hit_rate'])}, warm {pct(cache['warm']['l1']['hit_rate'])}",
              "- L2: " + (f"{pct(l2['hit_rate'])} ({l2['hits']} hits, {l2['misses']} misses, {l2['errors']} errors); "
                           f"cold {pct(cache['cold']['l2']['hit_rate'])}, warm {pct(cache['warm']['l2']['hit_rate'])}"
                           if l2["configured"] else "not configured"),
              f"- saved over the window: {cache['saved']['database_reads_avoided']} database reads, "
              f"{fmt(cache['saved']['ms_total'], 1)} ms ({fmt(cache['saved']['ms_per_message'], 3)} ms per message)",
              "", "| Cached | lookups | L1 hits | L2 hits | loads | loads avoided | mean load ms | saved ms |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {k} | {v['lookups']} | {v['l1_hits']} | {v['l2_hits']} | {v['loads']} | {v['loads_avoided']} | "
              f"{fmt(v['mean_load_ms'], 3)} | {fmt(v['saved_ms'], 1)} |" for k, v in cache["kinds"].items()]
    lines += ["", "## Errors and restarts", ""]
    perr = {p: e for p, e in report["errors"]["provider"].items() if e}
    lines.append("- provider errors: " + ("; ".join(f"{p}: " + ", ".join(f"{k} {v}" for k, v in e.items())
                                                      for p, e in perr.items()) or "none"))
    terr = report["errors"]["telegram"]
    lines.append("- send failures: " + (", ".join(f"{k} {v}" for k, v in terr.items()) or "none"))
    r = report["restarts"]
    lines.append(f"- worker crash restarts: {r['crash_restarts']}"
                 + (f" (workers {', '.join(map(str, r['crashed_workers']))})" if r["crashed_workers"] else ""))
    eng = {k: v for k, v in report["errors"]["engine"].items() if v}
    lines.append("- engine outcomes: " + (", ".join(f"{k} {v}" for k, v in eng.items()) or "none"))
    d = report["duplicates"]
    lines.append(f"- duplicates: {d['same_text']} same text in a chat, {d['sent_twice']} rows sent twice; "
                 f"{d['near']} near duplicates (reported, not a criterion)")
    lines += [f"  - near ({x['score']:g}): {cell(x['texts'][0])} ↔ {cell(x['texts'][1])}" for x in d["near_examples"][:5]]
    q = report["quality"]
    lines += ["", "## Quality", "",
              f"- bot-to-bot reply rate {fmt(q.get('bot_to_bot_reply_rate'))}, distinct 3-grams "
              f"{fmt(q.get('distinct_3gram_ratio'))}, top topic share {fmt(q.get('top_topic_share'))}, "
              f"artifacts {q.get('artifact_count', 0)}",
              "- topic spread: " + (", ".join(f"{k} {v:.0%}" for k, v in (q.get("topic_spread") or {}).items())
                                    or "–"),
              "- " + conversation_line(q),
              "- emoji per bot: " + (", ".join(f"{k} {v:.0%}" for k, v in (q.get("emoji_rate_by_bot") or {}).items())
                                     or "–")]
    lines += people_lines(report.get("people")) + [""]
    return "\n".join(lines)


def csv_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per sample: time, totals, per-worker counts, cache counters, each provider's quota."""
    workers = report["run"]["workers"]
    providers = sorted({name for s in report["samples"] for name in s.get("providers", {})})
    header = ["t_sim_s", "t_real_s", "sent", "throughput_per_min", *[f"sent_w{i}" for i in range(workers)],
              "l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors", "crash_restarts"]
    for p in providers:
        header += [f"{p}_state", f"{p}_remaining_requests", f"{p}_remaining_tokens", f"{p}_tokens_today",
                   f"{p}_errors"]
    rows = []
    for s in report["samples"]:
        per = list(s["sent_per_worker"]) + [0] * (workers - len(s["sent_per_worker"]))
        row: list[Any] = [s["t_sim"], s["t_real"], s["sent"],
                          "" if s["throughput_per_min"] is None else round(s["throughput_per_min"], 4), *per[:workers],
                          *(s["cache"].get(k, 0) for k in ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors")),
                          s["restarts"]]
        for p in providers:
            v = s.get("providers", {}).get(p, {})
            row += [v.get("state", ""), v.get("remaining_requests", ""), v.get("remaining_tokens", ""),
                    v.get("tokens_today", ""), sum((v.get("errors") or {}).values())]
        rows.append(["" if x is None else x for x in row])
    return header, rows


def render_csv(report: dict[str, Any]) -> str:
    header, rows = csv_rows(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
