"""What the prompts the fake LLM server received carry (bench/tokens.py prints it).

Each captured chat request is read as a real provider would see it: the user message's context
blocks ("Görüşlerin:", "Pozisyonların:", "Piyasa:"), the history lines under "Sohbet:", and whether the system + user prompt stayed within ``prompt_token_budget`` by the
engine's own estimate. The goal of issue 15: ≥ 6 history lines and stances and holdings present in
≥ 95 % of the prompts within the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HISTORY_HEAD = "Sohbet:"
REWRITE_HEAD = "Taslağın:"  # engine/prompt.py rewrite_prompt: a retry's prompt
# the closing lines of every prompt (engine/prompt.py ``_tail``): where the history ends
TAIL_STARTS = ("Şimdi:", "Son mesaj", "Sohbetteki ", "Yanıtlayacağın mesaj", "Konu:", "Görev:")
GOAL_SHARE = 0.95
GOAL_HISTORY = 6


@dataclass(frozen=True)
class PromptContent:
    """What one captured prompt holds."""

    history: int
    stances: bool
    holdings: bool
    market: bool
    within_budget: bool
    rewrite: bool = False  # a retry's prompt: the rejected draft and a note, no context by design (issue 16)

    @property
    def meets_goal(self) -> bool:
        return self.within_budget and self.history >= GOAL_HISTORY and self.stances and self.holdings


def chat_messages(body: Any) -> tuple[str, str]:
    """(system, user) text of an OpenAI-style chat request body."""
    system = user = ""
    for message in (body or {}).get("messages", []) if isinstance(body, dict) else []:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        if message.get("role") == "system":
            system = str(content or "")
        elif message.get("role") == "user":
            user = str(content or "")
    return system, user


def history_lines(user: str) -> int:
    """The history lines of one user prompt (the reply target's own line counts as history)."""
    lines = user.splitlines()
    count = 0
    if HISTORY_HEAD in lines:
        for line in lines[lines.index(HISTORY_HEAD) + 1:]:
            if line.startswith(TAIL_STARTS):
                break
            count += 1
    return count + sum(1 for line in lines if line.startswith("Yanıtlayacağın mesaj"))


def analyse(user: str, total_tokens: int, budget: int) -> PromptContent:
    """Read one user prompt."""
    lines = user.splitlines()
    return PromptContent(
        history=history_lines(user),
        stances=any(line.startswith("Görüşlerin:") for line in lines),
        holdings=any(line.startswith("Pozisyonların:") for line in lines),
        market=any(line.startswith("Piyasa:") for line in lines),
        within_budget=total_tokens <= budget,
        rewrite=any(line.startswith(REWRITE_HEAD) for line in lines))


def summary_lines(contents: Sequence[PromptContent], budget: int) -> list[str]:
    """The printed figures over every captured prompt that carries the chat's context (a retry's rewrite
    prompt carries the draft instead, and is counted apart)."""
    rewrites = sum(1 for c in contents if c.rewrite)
    contents = [c for c in contents if not c.rewrite]
    n = len(contents) or 1

    def share(pred: Any) -> str:
        hits = sum(1 for c in contents if pred(c))
        return f"{hits}/{len(contents)} ({hits / n:.0%})"

    met = sum(1 for c in contents if c.meets_goal) / n
    histories = sorted(c.history for c in contents) or [0]
    return [
        f"retry prompts (the rejected draft and a note, no context by design): {rewrites}",
        f"context prompts captured: {len(contents)}; within the {budget}-token budget (engine estimate): "
        f"{share(lambda c: c.within_budget)}",
        f"history lines: min {histories[0]}, median {histories[len(histories) // 2]}; "
        f"≥ {GOAL_HISTORY}: {share(lambda c: c.history >= GOAL_HISTORY)}",
        f"stances: {share(lambda c: c.stances)}; holdings: {share(lambda c: c.holdings)}; "
        f"market: {share(lambda c: c.market)}",
        f"{'PASS' if met >= GOAL_SHARE else 'FAIL'}: {met:.0%} of prompts hold ≥ {GOAL_HISTORY} history lines, "
        f"stances and holdings within the budget (goal ≥ {GOAL_SHARE:.0%})",
    ]
