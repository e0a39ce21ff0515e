"""Token accounting per provider/model/UTC day, persisted so a restart keeps the daily count."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from piyasa_core.store.models import ProviderUsage
from piyasa_core.timeutil import utcnow

RATE_WINDOW_S = 600.0  # the "current rate" behind the exhaustion projection


@dataclass
class UsageCounts:
    """Requests and tokens of one provider/model/day."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: UsageCounts) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens


Key = tuple[date, str, str]


class UsageLedger:
    """In-memory counters with periodic upserts of the not-yet-saved part (deltas)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """``clock``: epoch seconds; the engine's (simulated) clock, so that a time-scaled run counts its
        usage on its own simulated day, the day its plan and budgets read (the real day at scale 1)."""
        self.clock = clock
        self.totals: dict[Key, UsageCounts] = {}
        self._unsaved: dict[Key, UsageCounts] = {}
        self._recent: dict[str, deque[tuple[float, int]]] = {}

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock(), timezone.utc).date()

    def record(self, provider: str, model: str, *, prompt: int = 0, completion: int = 0, cached: int = 0,
               error: bool = False) -> None:
        """Count one request (successful or not)."""
        delta = UsageCounts(1, int(error), prompt, completion, cached)
        key = (self._today(), provider, model)
        self.totals.setdefault(key, UsageCounts()).add(delta)
        self._unsaved.setdefault(key, UsageCounts()).add(delta)
        if prompt or completion:
            recent = self._recent.setdefault(provider, deque())
            now = self.clock()
            recent.append((now, prompt + completion))
            while recent and recent[0][0] < now - RATE_WINDOW_S:
                recent.popleft()

    def today(self, provider: str) -> UsageCounts:
        """Today's counts of a provider, all models together."""
        total = UsageCounts()
        today = self._today()
        for (day, name, _), counts in self.totals.items():
            if day == today and name == provider:
                total.add(counts)
        return total

    def tokens_per_second(self, provider: str) -> float:
        """Token rate over the last ten minutes."""
        recent = self._recent.get(provider)
        if not recent:
            return 0.0
        span = max(60.0, self.clock() - recent[0][0])
        return sum(tokens for _, tokens in recent) / span

    def projected_exhaustion(self, provider: str, tpd: int) -> datetime | None:
        """When today's tokens reach ``tpd`` at the current rate (None: no budget, or not today)."""
        if not tpd:
            return None
        rate = self.tokens_per_second(provider)
        left = tpd - self.today(provider).tokens
        if left <= 0:
            return datetime.fromtimestamp(self.clock(), timezone.utc)
        if rate <= 0:
            return None
        eta = self.clock() + left / rate
        midnight = datetime.combine(self._today(), datetime.min.time(), timezone.utc).timestamp() + 86400
        return datetime.fromtimestamp(eta, timezone.utc) if eta < midnight else None

    def load(self, session: Session) -> None:
        """Start from what is already stored for today (after a restart)."""
        today = self._today()
        for row in session.scalars(select(ProviderUsage).where(ProviderUsage.day == today)):
            self.totals[(row.day, row.provider, row.model)] = UsageCounts(
                row.requests, row.errors, row.prompt_tokens, row.completion_tokens, row.cached_tokens)

    def flush(self, session: Session) -> int:
        """Add the unsaved deltas to the stored rows (one upsert per key); returns rows touched."""
        pending, self._unsaved = self._unsaved, {}
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for (day, provider, model), delta in pending.items():
            stmt = insert(ProviderUsage).values(
                day=day, provider=provider, model=model, requests=delta.requests, errors=delta.errors,
                prompt_tokens=delta.prompt_tokens, completion_tokens=delta.completion_tokens,
                cached_tokens=delta.cached_tokens, updated_at=utcnow())
            table = ProviderUsage.__table__.c
            stmt = stmt.on_conflict_do_update(
                index_elements=["day", "provider", "model"],
                set_={
                    "requests": table.requests + stmt.excluded.requests,
                    "errors": table.errors + stmt.excluded.errors,
                    "prompt_tokens": table.prompt_tokens + stmt.excluded.prompt_tokens,
                    "completion_tokens": table.completion_tokens + stmt.excluded.completion_tokens,
                    "cached_tokens": table.cached_tokens + stmt.excluded.cached_tokens,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
            session.execute(stmt)
        return len(pending)
