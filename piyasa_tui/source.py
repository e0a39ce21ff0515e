"""Where the TUI gets its data: anything with the Supervisor's public face (`SnapshotSource`).

The real :class:`~piyasa_core.workers.supervisor.Supervisor` satisfies the protocol unchanged, and so
does the `--attach` client (`piyasa_tui.remote.RemoteSource`); tests use :class:`ScriptedSource`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from piyasa_core.workers.snapshot import FeedItem, Snapshot


@runtime_checkable
class SnapshotSource(Protocol):
    """The snapshot producer and the operator actions the TUI calls."""

    def snapshot(self) -> Snapshot:
        """The current immutable state (an in-memory copy: cheap, no I/O)."""
        ...

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A bounded queue of `{"type": "message"|"notice"|…, "data": …}` events."""
        ...

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None: ...

    async def switch_provider(self, name: str) -> dict[str, Any]: ...

    async def restart_workers(self, worker_id: int | None = None) -> dict[str, Any]:
        """`{"ok", "changes", "held", "error"}`; re-reads config and `.env` (held: keys only a restart of
        piyasa applies, each with why)."""
        ...

    async def preview_restart(self) -> dict[str, Any]:
        """What :meth:`restart_workers` would apply and hold now, without restarting."""
        ...

    async def set_simulation(self, running: bool) -> dict[str, Any]: ...

    async def post_human(self, chat: str, text: str, name: str = "Operatör") -> dict[str, Any]:
        """`{"ok", "message_id", "answering"}` (answering: bot ids)."""
        ...

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """``start`` (options: duration, time_scale, …), ``cancel``, ``status`` or ``history`` (past runs)
        of the benchmark."""
        ...

    async def set_bot_enabled(self, bot: int | str, enabled: bool) -> dict[str, Any]:
        """Turn a bot (id or username) on or off; kept in the database across restarts."""
        ...

    async def message_detail(self, message_id: int) -> dict[str, Any]:
        """Everything stored about one message (``piyasa_core/store/message_detail.py``); LookupError
        (or a 404 ControlError when attached) when there is none."""
        ...

    async def drain_host(self) -> dict[str, Any]:
        """Fleet mode: `{"ok", "host", "shards"}` — the host hands its shards over, then stops; ValueError
        (a 400 ControlError when attached) when it is not in fleet mode."""
        ...


@dataclass(frozen=True)
class Link:
    """How an attached TUI reaches its server, as of one moment (wall-clock epoch seconds)."""

    url: str
    connected: bool
    since: float  # when the connection was made, or lost
    received_at: float | None  # when the newest snapshot arrived
    error: str = ""  # why it was lost
    retry_at: float | None = None  # when the next attempt is due (None: not retrying)


@runtime_checkable
class Linked(Protocol):
    """A source whose data comes over a connection (`--attach`); an embedded supervisor is always fresh."""

    def link(self) -> Link | None: ...


@dataclass(frozen=True)
class Call:
    """One recorded action: the method name and its arguments, all positional."""

    method: str
    args: tuple[Any, ...]


class ScriptedSource:
    """A fake source for tests: plays a list (or generator) of snapshots, records every action call.

    ``snapshot()`` returns the next scripted snapshot, and keeps returning the last one when the script
    runs out; :meth:`show` replaces the script. ``errors`` maps a method name to an exception to raise
    (once per call); ``results`` maps a method name to a return value or a callable computing it from
    the call's arguments.
    """

    def __init__(self, snapshots: Snapshot | Iterable[Snapshot], *,
                 errors: dict[str, BaseException] | None = None,
                 results: dict[str, Any | Callable[..., Any]] | None = None,
                 delay: float = 0.0) -> None:
        self._script: Iterator[Snapshot] = iter([snapshots] if isinstance(snapshots, Snapshot) else snapshots)
        self._current: Snapshot | None = None
        self.errors = dict(errors or {})
        self.results = dict(results or {})
        self.delay = delay
        self.calls: list[Call] = []
        self.snapshot_calls = 0
        self.subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self.link_state: Link | None = None

    # ── snapshots ──────────────────────────────────────────────────────────────────────────────
    def snapshot(self) -> Snapshot:
        self.snapshot_calls += 1
        try:
            self._current = next(self._script)
        except StopIteration:
            pass
        if self._current is None:
            raise LookupError("the script has no snapshot")
        return self._current

    def show(self, *snapshots: Snapshot) -> None:
        """Replace the script: play ``snapshots`` from the next ``snapshot()`` on."""
        self._script = iter(snapshots)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        if q in self.subscribers:
            self.subscribers.remove(q)

    # ── actions ────────────────────────────────────────────────────────────────────────────────
    def called(self, method: str) -> list[tuple[Any, ...]]:
        """The argument tuples of every call of ``method``, in order."""
        return [c.args for c in self.calls if c.method == method]

    async def _act(self, method: str, args: tuple[Any, ...], default: Any) -> Any:
        self.calls.append(Call(method, args))
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self.errors.get(method)
        if error is not None:
            raise error
        if method in self.results:
            result = self.results[method]
            return result(*args) if callable(result) else result
        if isinstance(default, BaseException):
            raise default
        return default

    async def switch_provider(self, name: str) -> dict[str, Any]:
        return await self._act("switch_provider", (name,), {"ok": True, "provider": name, "workers": []})

    async def restart_workers(self, worker_id: int | None = None) -> dict[str, Any]:
        return await self._act("restart_workers", (worker_id,), {"ok": True, "changes": [], "held": [], "error": None})

    async def preview_restart(self) -> dict[str, Any]:
        return await self._act("preview_restart", (), {"ok": True, "changes": [], "held": [], "error": None})

    async def set_simulation(self, running: bool) -> dict[str, Any]:
        return await self._act("set_simulation", (running,), {"ok": True, "running": running})

    async def post_human(self, chat: str, text: str, name: str = "Operatör") -> dict[str, Any]:
        return await self._act("post_human", (chat, text, name), {"ok": True, "message_id": 1, "answering": []})

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        default = {"ok": True, "out_dir": "data/bench", "runs": [], "total": 0, "skipped": []} \
            if action == "history" else {"ok": True, "id": "scripted"}
        return await self._act("benchmark", (action, dict(options)), default)

    async def set_bot_enabled(self, bot: int | str, enabled: bool) -> dict[str, Any]:
        return await self._act("set_bot_enabled", (bot, enabled), {"ok": True, "bot": bot, "enabled": enabled})

    async def message_detail(self, message_id: int) -> dict[str, Any]:
        """By default what the current snapshot's feed line says (LookupError for an unknown id)."""
        item = next((i for i in (self._current.feed if self._current else ()) if i.message_id == message_id), None)
        default = detail_of(item) if item is not None else LookupError(f"message {message_id} not found")
        return await self._act("message_detail", (message_id,), default)

    async def drain_host(self) -> dict[str, Any]:
        """By default what the current snapshot's fleet says (ValueError when it has none, as the supervisor)."""
        fleet = self._current.fleet if self._current is not None else None
        default: Any = ValueError("drain needs fleet mode ([fleet] enabled = true)") if not fleet else \
            {"ok": True, "host": fleet.get("host_id"),
             "shards": sum(1 for h in (fleet.get("holders") or {}).values() if h == fleet.get("host_id"))}
        return await self._act("drain_host", (), default)

    def link(self) -> Link | None:
        """``link_state`` (None: behave like the embedded supervisor, always fresh)."""
        return self.link_state


# ── a fixed sample (tests, snapshot tests and a look at the layout without workers) ────────────
SAMPLE_BOTS = ((0, ("Mehmet Yatırımcı",)), (1, ("Zeynep Yeni", "Ali Ekonomist")), (2, ("Ayşe Scalper",)),
               (3, ("Can Teknik",)))
SAMPLE_USERNAMES = {"Mehmet Yatırımcı": "mehmet_trader", "Zeynep Yeni": "zeynep_newbie", "Ali Ekonomist": "ali_ekonomist",
                    "Ayşe Scalper": "ayse_scalp", "Can Teknik": "can_chartist"}
SAMPLE_LINES = (
    ("GARAN'da acele yok, 20 yılda gördüklerim bunu söylüyor", "Zeynep Yeni"),
    ("@ali_ekonomist enflasyon verisi bugün mü açıklanıyor? 😊", None),
    ("SISE alev alev, hacim geldi 🚀", None),
    ("dolar/TL 38 üstünde kalıcı mı sizce", None),
    ("THYAO bilançosu beklentinin üstünde geldi", "Ayşe Scalper"),
    ("altın ons 3000'e dayandı, gram altın rekor", None),
    ("BIST100 10 bin direnci kırılmadan ben yokum", "Can Teknik"),
    ("faiz kararı perşembe, piyasa fiyatladı bence", None),
)


def sample_snapshot(now: float, *, feed_size: int = 24, l2: bool = False, running: bool = True) -> Snapshot:
    """A believable snapshot at wall time ``now``: four workers (one in backoff), four providers
    (one parked on a bad key, one on a missing model, the offline fallback), a short feed."""
    from piyasa_core.workers.snapshot import (
        FeedItem,
        ProviderView,
        WorkerView,
        cache_totals,
    )

    workers = []
    bot_id = 0
    for worker_id, names in SAMPLE_BOTS:
        bots = tuple(range(bot_id, bot_id + len(names)))
        bot_id += len(names)
        crashed = worker_id == 2
        cache = {"l1_hits": 300 + 40 * worker_id, "l1_misses": 120 - 10 * worker_id,
                 "l2_hits": (50 + 5 * worker_id) if l2 else 0, "l2_misses": (90 - 5 * worker_id) if l2 else 0,
                 "l2_errors": 0}
        workers.append(WorkerView(
            worker_id=worker_id, pid=None if crashed else 4121 + worker_id, state="backoff" if crashed else "running",
            state_since=now - (3 if crashed else 3720), uptime_s=0.0 if crashed else 3722.0 + worker_id,
            restarts=3 if crashed else 0, backoff_until=now + 4.2 if crashed else None, bots=bots,
            bot_names=names, sent_total=120 + 7 * worker_id, rate_1m=0.0 if crashed else 1.4 + 0.1 * worker_id,
            rate_10m=1.2 + 0.1 * worker_id,
            spark=(5, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0) if crashed else tuple((worker_id + i) % 6 + 1 for i in range(12)),
            cache=cache, cpu_percent=None if crashed else 2.0 + worker_id, rss_bytes=None if crashed else (60 + worker_id) * 1048576,
            last_error="exited with code 1: sqlite3.OperationalError: database is locked" if crashed else "",
            last_heartbeat=None if crashed else now - 0.5))
    providers = (
        ProviderView("groq", "llama-3.3-70b-versatile", "groq (llama-3.3-70b-versatile)", True, True, True, "ok", "", None,
                     "closed", 987, 1000, 11200, 12000, 12.0, 812, 41000, 100000, now + 5 * 3600 + 38 * 60, {}),
        ProviderView("openai", "gpt-4o-mini", "openai (gpt-4o-mini)", True, False, True, "auth_error",
                     "401 invalid key (OPENAI_API_KEY)", None, "closed", None, None, None, None, None, 0, 0, 0, None,
                     {"auth": 2}),
        ProviderView("gemini", "gemini-1.5-flash", "gemini (gemini-1.5-flash)", True, False, False, "model_missing",
                     "404 gemini-1.5-flash not found", None, "closed", None, None, None, None, None, 0, 0, 0, None,
                     {"model_not_found": 1}),
        ProviderView("offline", "offline", "offline — not an LLM", False, False, True, "ok", "", None, "closed",
                     None, None, None, None, None, 0, 0, 0, None, {}),
    )
    feed = []
    for i in range(feed_size):
        worker_id, names = SAMPLE_BOTS[i % len(SAMPLE_BOTS)]
        text, reply_to = SAMPLE_LINES[i % len(SAMPLE_LINES)]
        name = names[(i // len(SAMPLE_BOTS)) % len(names)]
        feed.append(FeedItem(message_id=1000 + i, at=now - 5 * (feed_size - i), worker_id=worker_id,
                             bot_id=i % 5, bot_name=name, username=SAMPLE_USERNAMES[name],
                             chat_key="piyasa-local" if i % 3 else "borsa-sohbet", text=text,
                             mode="reply" if reply_to else "new", reply_to_author=reply_to, provider="groq",
                             model="llama-3.3-70b-versatile"))
    from piyasa_tui.sample_bots import sample_bots

    views = tuple(workers)
    return Snapshot(
        at=now, sim_at=now, started_at=now - 3725, workers=views, feed=tuple(feed), providers=providers,
        active_provider="groq", running=running, paused_reason="", sent_total=sum(w.sent_total for w in views),
        rate_1m=sum(w.rate_1m for w in views), rate_10m=sum(w.rate_10m for w in views),
        cache_totals=cache_totals(views), l2_configured=l2, notices=(), chats=("piyasa-local", "borsa-sohbet"),
        bots=sample_bots(now))


FLEET_HOSTS = ("piyasa-a", "piyasa-b", "piyasa-c")


def sample_fleet(snapshot: Snapshot, *, failover: bool = False) -> dict[str, Any]:
    """The ``fleet`` of a three-host fleet whose first host is ``snapshot``'s (its workers and rates):
    12 shards, 4 each; with ``failover`` the third host went silent 41 s ago, its 4 shards' leases ran
    out (unheld) and the two others are taking them over (4 of 6 each)."""
    here, second, third = FLEET_HOSTS
    per_host = {here: (0, 3, 6, 9), second: (1, 4, 7, 10), third: (2, 5, 8, 11)}
    if failover:
        per_host[third] = ()
    holders = {str(s): host for host, shards in per_host.items() for s in shards}
    holders.update({str(s): None for s in range(12) if str(s) not in holders})
    at = snapshot.at
    states = [w.state for w in snapshot.workers]
    summaries = {here: (snapshot.sent_total, snapshot.rate_1m, snapshot.rate_10m, states, 0.4),
                 second: (402, 2.8, 2.6, ["running"] * 4, 1.9),
                 third: (377, 0.0, 1.1, ["running"] * 4, 41.3) if failover else (377, 3.3, 3.0, ["running"] * 4, 2.7)}
    hosts = []
    for host, (sent, rate_1m, rate_10m, workers, age) in summaries.items():
        live = not (failover and host == third)
        hosts.append({"host_id": host, "address": "127.0.0.1:8765", "workers": len(workers), "version": "0.1.0",
                      "live": live, "draining": False, "heartbeat_age_s": age, "started_at": at - 3725,
                      "target": (6 if failover else 4) if live else 0, "sent_total": sent, "rate_1m": rate_1m,
                      "rate_10m": rate_10m, "worker_states": workers, "shards": sorted(per_host[host])})
    return {"host_id": here, "shards": 12, "lease_ttl": 10.0, "draining": False, "hosts": hosts, "holders": holders,
            "moves": 4, "error": ""}


def detail_of(item: FeedItem) -> dict[str, Any]:
    """A message detail with what a feed line knows (the shape of ``piyasa_core/store/message_detail.py``)."""
    author = {"kind": "person" if item.human else "bot", "name": item.bot_name, "username": item.username,
              "bot_id": None if item.human else item.bot_id, "user_id": None}
    return {"id": item.message_id, "text": item.text, "status": "sent", "failure_reason": None,
            "created_at": item.at, "sent_at": item.at,
            "chat": {"key": item.chat_key, "title": item.chat_key, "transport": "console", "run_id": None},
            "author": author, "worker_id": None if item.human else item.worker_id, "provider": item.provider or None,
            "model": item.model or None, "tokens_in": 0, "tokens_out": 0, "tokens_cached": 0, "llm_latency_s": None,
            "telegram_message_id": None, "send_count": 1,
            "reply_to": {"id": None, "text": "", "kind": "bot", "name": item.reply_to_author, "username": "",
                         "bot_id": None, "user_id": None} if item.reply_to_author else None,
            "meta": {"mode": item.mode}}
