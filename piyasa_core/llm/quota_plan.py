"""The day's LLM budget, planned so that it lasts the day.

The older system talked at full pace until Groq's 100,000 tokens a day ran out, then fell silent.
The plan asks instead: with what the provider chain has left today (daily token and request quotas,
less today's usage by every worker), at the measured cost of a message, how many messages can the
bots still afford, and how does that compare with what their pace plans for the rest of their day?
A share is kept for people's questions. When the bots' plan does not fit, every bot's pace is scaled
by the same factor (``scale``), so the community talks more slowly all day rather than at full pace
for an hour; a provider without a daily quota (or the offline composer, where the operator allows
it) makes the chain unlimited and the scale 1.

Pure arithmetic on numbers the engine gathers (engine/quota.py); no clock or I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

__all__ = ["DayPlan", "ProviderDay", "ProviderPlan", "plan_day"]

HOUR = 3600.0


@dataclass(frozen=True)
class ProviderDay:
    """One provider of the chain today: its daily quotas (0: none) and what was used of them."""

    name: str
    tpd: int = 0
    rpd: int = 0
    used_tokens: int = 0
    used_requests: int = 0
    usable: bool = True  # configured and not out for the day (no key: not usable)

    def affordable(self, tokens_per_message: float, calls_per_message: float) -> float | None:
        """Messages its daily quotas still allow; None without a daily quota (unlimited); 0 unusable."""
        if not self.usable:
            return 0.0
        left = []
        if self.tpd:
            left.append(max(0, self.tpd - self.used_tokens) / max(tokens_per_message, 1.0))
        if self.rpd:
            left.append(max(0, self.rpd - self.used_requests) / max(calls_per_message, 1e-9))
        return min(left) if left else None


@dataclass(frozen=True)
class ProviderPlan:
    """What the panel, `status --json`, /metrics and the report show for one provider."""

    name: str
    used_tokens: int
    tpd: int
    used_requests: int
    rpd: int
    affordable_left: float | None  # messages left today (None: no daily quota)
    planned_per_hour: float | None  # the plan's share of the fleet's pace on this provider
    lasts_until: float | None  # simulated epoch at the planned pace (None: past the day's end / unlimited)
    lasts_until_unplanned: float | None  # at the bots' own pace, without the plan


@dataclass(frozen=True)
class DayPlan:
    """The plan at ``at`` for the rest of the day (to ``day_end``, the end of the last active hour)."""

    at: float
    day_end: float
    scale: float  # every bot's pace × this (1: the plan does not hold the community back)
    demand: float  # bot messages the bots' own pace plans for the rest of the day
    demand_at_minimum: float  # the same at every bot's hourly_min
    affordable: float | None  # messages the chain affords for bots (the people's reserve kept); None: unlimited
    reserve: float  # messages kept for people's questions
    tokens_per_message: float
    providers: tuple[ProviderPlan, ...] = field(default_factory=tuple)
    warning: str = ""  # set when the plan cannot keep every bot at its minimum to the day's end
    chain: str = ""  # the chain's first provider (the active one)

    @property
    def planned_per_hour(self) -> float:
        hours = max(self.day_end - self.at, 0.0) / HOUR
        return self.demand * self.scale / hours if hours > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["planned_per_hour"] = round(self.planned_per_hour, 2)
        return out


def _lasts(at: float, left: float | None, per_hour: float, day_end: float) -> float | None:
    if left is None or per_hour <= 0:
        return None
    end = at + left / per_hour * HOUR
    return None if end >= day_end else end


def plan_day(chain: Sequence[ProviderDay], *, at: float, day_end: float, demand: float,
             demand_at_minimum: float, tokens_per_message: float, calls_per_message: float = 1.0,
             reserve_share: float = 0.1, people_demand: float = 0.0, answer_headroom: float = 0.0) -> DayPlan:
    """The plan for ``[at, day_end)``: ``demand`` is what the bots' pace plans in it (``demand_at_minimum``
    at their hourly minimum); kept for people: ``reserve_share`` of what the chain affords, or the
    answers to people expected for the rest of the day (``people_demand``, measured) plus
    ``answer_headroom`` tokens (what a request reserves beyond an average message), the larger."""
    afford = [p.affordable(tokens_per_message, calls_per_message) for p in chain]
    unlimited = any(a is None for a in afford) or not chain
    total = None if unlimited else sum(a or 0.0 for a in afford)
    # the people's answers expected for the rest of the day are whole messages, and one more is kept for a
    # question the rate did not predict (the last question of a day was left unanswered without it)
    expected = math.ceil(people_demand) + 1 if people_demand > 0 else 0.0
    # a request reserves its prompt and its whole reply cap, not the average message: the day's last
    # answer needs that headroom too (with the average alone the last question of a day found 525
    # tokens left against a 530-token reservation and went unanswered)
    if expected and answer_headroom > 0:
        expected += answer_headroom / max(tokens_per_message, 1.0)
    reserve = 0.0 if total is None else min(total, max(total * reserve_share, expected))
    for_bots = None if total is None else total - reserve
    scale = 1.0 if for_bots is None or demand <= 0 else min(1.0, for_bots / demand)
    hours = max(day_end - at, 0.0) / HOUR
    fleet_rate = demand * scale / hours if hours > 0 else 0.0
    full_rate = demand / hours if hours > 0 else 0.0
    first = next((p.name for p in chain if p.usable), None)
    plans = []
    for p, a in zip(chain, afford):
        # with quotas the fleet's pace is spread by what each provider has left (fallback by remaining
        # capacity, not only on error); an unlimited chain runs on its first usable provider
        share = (a or 0.0) / total if total else 1.0 if total is None and p.name == first else 0.0
        rate = fleet_rate * share
        plans.append(ProviderPlan(p.name, p.used_tokens, p.tpd, p.used_requests, p.rpd,
                                  None if a is None else round(a, 1), round(rate, 2) if p.usable else None,
                                  _lasts(at, a, rate, day_end), _lasts(at, a, full_rate * share, day_end)))
    warning = ""
    if for_bots is not None and demand_at_minimum > for_bots:
        short_by = demand_at_minimum - for_bots
        warning = (f"the day's quota affords {for_bots:.0f} more bot messages; keeping every bot at its hourly "
                   f"minimum to the end of its day needs {demand_at_minimum:.0f} ({short_by:.0f} short)")
    return DayPlan(at, day_end, round(scale, 4), round(demand, 1), round(demand_at_minimum, 1),
                   None if for_bots is None else round(for_bots, 1), round(reserve, 1),
                   round(tokens_per_message, 1), tuple(plans), warning, chain[0].name if chain else "")
