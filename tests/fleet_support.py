"""A fleet of real `piyasa-tui --serve` hosts on one PostgreSQL database and one Redis (issue 18).

Shared by tests/test_fleet_serve.py and bench/fleet.py. Each host is its own process group (so a
`kill -9`, a SIGSTOP or a SIGCONT reaches the supervisor and its workers at once), with its own
working directory (a copy of one config.toml, its own data dir and control token) and port; every
host gets the same DATABASE_URL, REDIS_URL, Redis key prefix and `[fleet]` settings. The database is
read directly (leases, messages) to check what the hosts decided: :func:`fencing_report` states the
fencing invariant on the messages table. A host can be started behind a :class:`Partition` (a TCP
proxy in front of PostgreSQL and Redis) that a test cuts and heals like a network partition, without
root or network namespaces.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from piyasa_core.engine.dedup import SEEN_KEEP
from tests.engine_support import SIM_START_AT  # a Wednesday, 10:05 in Istanbul: every default bot talks

REPO = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("piyasa-tui")
START_TIMEOUT_S = 60.0
T = TypeVar("T")


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)


# ── scratch PostgreSQL database (bench/fleet.py; the tests use tests.conftest's helpers) ─────────
def create_database(admin_url: str) -> tuple[str, str]:
    """A fresh, empty database next to ``admin_url``'s: (name, SQLAlchemy URL)."""
    import psycopg

    name = f"piyasa_f_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database made by :func:`create_database` (its open connections are ended)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_redis_keys(redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix:``; returns how many there were."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        for start in range(0, len(keys), 500):
            client.unlink(*keys[start:start + 500])
        return len(keys)
    finally:
        client.close()


# ── a network partition without root: a TCP proxy that can drop everything ───────────────────
class Partition:
    """A TCP proxy on 127.0.0.1 in front of some servers (one listening port per target, in order).

    :meth:`cut` behaves like a partition dropping every packet: connections stay open and new ones
    are accepted, but no byte (nor a close) passes in either direction; what is sent meanwhile waits
    (one chunk per direction here, the rest in the kernel's socket buffers). :meth:`heal` delivers what
    waited, in order, and forwards again: TCP's retransmissions after a partition, so a write made
    before the cut reaches the server late (the case fencing has to survive).
    """

    def __init__(self, targets: Iterable[tuple[str, int]]) -> None:
        self._loop = asyncio.new_event_loop()
        self._open = asyncio.Event()
        self._open.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="partition", daemon=True)
        self._thread.start()
        self._servers = [self._call(asyncio.start_server(
            lambda r, w, target=target: self._forward(target, r, w), "127.0.0.1", 0)) for target in targets]
        self.ports: list[int] = [int(server.sockets[0].getsockname()[1]) for server in self._servers]

    @property
    def is_cut(self) -> bool:
        """True between :meth:`cut` and :meth:`heal`."""
        return not self._open.is_set()

    def cut(self) -> None:
        """From now on nothing passes (bytes already handed to the kernel before still arrive)."""
        self._call(self._gate(False))

    def heal(self) -> None:
        """Deliver what waited and forward again."""
        self._call(self._gate(True))

    def close(self) -> None:
        """Stop listening, close every connection, end the proxy's thread."""
        if self._loop.is_closed():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _gate(self, open_: bool) -> None:
        if open_:
            self._open.set()
        else:
            self._open.clear()

    async def _forward(self, target: tuple[str, int], client: asyncio.StreamReader,
                       to_client: asyncio.StreamWriter) -> None:
        try:
            server, to_server = await asyncio.open_connection(*target)
        except OSError:
            to_client.close()
            return
        self._writers |= {to_client, to_server}
        await asyncio.gather(self._pump(client, to_server), self._pump(server, to_client), return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        finally:  # the end of the stream (or a reset) crosses no cut either
            await self._open.wait()
            writer.close()
            self._writers.discard(writer)

    async def _shutdown(self) -> None:
        self._open.set()
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()  # each pump then reads the end of its stream and returns
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        if tasks:
            for task in (await asyncio.wait(tasks, timeout=5))[1]:
                task.cancel()


def through(url: str, port: int) -> str:
    """``url`` (PostgreSQL or Redis) pointed at 127.0.0.1:``port`` instead, user and path kept."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user + '@' if user else ''}127.0.0.1:{port}"))


# ── one host ─────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class FleetOptions:
    """The settings every host of one fleet shares."""

    shards: int = 4
    lease_ttl: float = 3.0
    renew_every: float = 0.0  # 0 → lease_ttl / 3
    time_scale: float = 60.0
    workers: int = 2
    start_at: str = SIM_START_AT
    extra_env: tuple[tuple[str, str], ...] = ()


class Host:
    """One `piyasa-tui --serve` of the fleet, in its own process group and working directory;
    ``partitionable``: it reaches PostgreSQL and Redis through its own :attr:`partition`."""

    def __init__(self, fleet: Fleet, host_id: str, partitionable: bool = False) -> None:
        self.fleet, self.host_id = fleet, host_id
        self.workdir = fleet.root / host_id
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(fleet.config, self.workdir / "config.toml")
        self.port = free_port()
        self.env = fleet.environ(host_id)
        self.partition: Partition | None = None
        if partitionable:
            db, cache = urlsplit(fleet.database_url), urlsplit(fleet.redis_url)
            self.partition = Partition([(db.hostname or "127.0.0.1", db.port or 5432),
                                        (cache.hostname or "127.0.0.1", cache.port or 6379)])
            self.env.update(DATABASE_URL=through(fleet.database_url, self.partition.ports[0]),
                            REDIS_URL=through(fleet.redis_url, self.partition.ports[1]))
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""
        self.starts = 0
        self.paused = False

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.log"

    def launch(self) -> None:
        """Start the serve (returns at once; :meth:`wait_ready` waits for its control API)."""
        assert not self.running, f"{self.host_id} already runs"
        (self.workdir / "data" / "control.json").unlink(missing_ok=True)
        self.starts += 1
        self.port = free_port()
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([str(EXE), "--serve", "--port", str(self.port)], cwd=self.workdir,
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.paused = False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> str:
        """Wait for data/control.json; returns the control API's URL."""
        info = self.workdir / "data" / "control.json"

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, \
                f"{self.host_id} exited with {self.proc and self.proc.returncode}: {self.log_tail()}"
            return info.exists()

        wait_for(ready, timeout, f"{self.host_id}'s control.json")
        self.url = str(json.loads(info.read_text())["url"])
        self.token = (self.workdir / "data" / "control.token").read_text().strip()
        return self.url

    def start(self, timeout: float = START_TIMEOUT_S) -> str:
        self.launch()
        return self.wait_ready(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the serve and every worker it spawned (its process group)."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """kill -9 of the whole host (the supervisor and its workers at once)."""
        self.signal_group(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(timeout=30)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP the whole host: it holds its leases in its memory and renews none."""
        self.signal_group(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)
        self.paused = False

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM (a clean stop: workers drain, leases are released); the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def status(self, timeout: float = 5) -> dict[str, Any]:
        """``GET /status`` of this host (its snapshot, with the ``fleet`` dict)."""
        from piyasa_core.control.client import fetch_status
        from piyasa_core.secrets import Secret

        return fetch_status(self.url, Secret(self.token), timeout)

    def drain(self) -> dict[str, Any]:
        """``POST /fleet/drain``: the host hands its shards over, then its serve exits."""
        import asyncio

        from piyasa_core.control.client import ControlClient
        from piyasa_core.secrets import Secret

        async def run() -> dict[str, Any]:
            async with ControlClient(self.url, Secret(self.token), 10) as client:
                return await client.drain_host()

        return asyncio.run(run())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        """Stop whatever still runs: heal, SIGCONT, SIGTERM, then SIGKILL of the group after 30 s;
        then close the partition's proxy."""
        if self.partition is not None and self.partition.is_cut:
            self.partition.heal()
        try:
            self._stop()
        finally:
            if self.partition is not None:
                self.partition.close()

    def _stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal_group(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # the workers of a killed or stuck supervisor, if any survived
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


# ── the messages table and the fencing invariant ─────────────────────────────────────────────
@dataclass(frozen=True)
class Row:
    """A bot's message row, with the fleet's stamp (``meta["fleet"]``) its writer put on it."""

    id: int
    bot_id: int
    status: str
    send_count: int
    text: str
    host: str | None
    lease: str | None
    epoch: int | None
    failure_reason: str | None
    reply_to: int | None = None
    said: int | None = None  # messages of the chat delivered up to this row (people's too): the dedup window's unit
    to_person: bool = True  # ``reply_to`` is a person's message (else a bot's)


@dataclass
class FencingReport:
    """What :func:`fencing_report` found; ``violations`` must be empty."""

    rows: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    by_host: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    epochs_per_shard: dict[int, list[int]] = field(default_factory=dict)
    repeats_beyond_window: int = 0  # a bot's text said again further back than the dedup window
    double_replies_to_bots: int = 0  # a bot's second reply to the same bot message
    violations: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(1 for v in self.violations if not v.startswith("pending"))


def fencing_report(rows: Iterable[Row], shards: int, *, final: bool = True) -> FencingReport:
    """Check the fencing invariant on the bots' message rows.

    - every row carries ``meta.fleet`` = {host, lease: "shard:<bot_id % shards>", epoch};
    - per shard, in row id order, the epoch never decreases (a takeover's epoch is higher, and no
      write under an older epoch commits after it);
    - no row was accepted by the transport more than once (``send_count`` ≤ 1; a sent row exactly 1);
    - no bot has two 'sent' rows with the same text within the dedup window (``SEEN_KEEP`` messages of the
      chat, people's included (``Row.said``; without it, bot rows): a
      message delivered twice by two holders, or a taken-over bot repeating what it said), nor two
      'sent' replies to one person's message (a question answered by the old and the new holder); the
      same text further apart is a persona's habit, counted in ``repeats_beyond_window``, and a bot
      replying twice to another bot's message is the conversation's doing (one host, one epoch), counted in
      ``double_replies_to_bots``: neither is a violation;
    - ``final``: no row is left 'pending' (a taken-over shard's interrupted rows are resolved to failed).
    """
    report = FencingReport()
    last: dict[int, tuple[int, int]] = {}
    texts: dict[tuple[int, str], tuple[int, int]] = {}  # (bot, text) → (row id, position) of its last sending
    answers: dict[tuple[int, int], int] = {}  # (bot, message it replied to) → row id
    epochs: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(sorted(rows, key=lambda r: r.id)):
        position = index if row.said is None else row.said
        report.rows += 1
        report.by_host[row.host or "?"] += row.status == "sent"
        shard = row.bot_id % shards
        if row.status == "sent":
            report.sent += 1
        elif row.status == "failed":
            report.failed += 1
            report.failure_reasons[(row.failure_reason or "").split(":")[0]] += 1
        else:
            report.pending += 1
            if final:
                report.violations.append(f"pending row {row.id} (bot {row.bot_id}, {row.host} epoch {row.epoch})")
        if row.epoch is None or row.host is None or row.lease != f"shard:{shard}":
            report.violations.append(f"row {row.id} of bot {row.bot_id} has no fleet stamp for shard {shard}: "
                                     f"{row.host} {row.lease} {row.epoch}")
            continue
        if shard in last and row.epoch < last[shard][1]:
            report.violations.append(f"shard {shard}: row {row.id} by {row.host} epoch {row.epoch} after row "
                                     f"{last[shard][0]} epoch {last[shard][1]}")
        last[shard] = (row.id, row.epoch)
        if not epochs[shard] or epochs[shard][-1] != row.epoch:
            epochs[shard].append(row.epoch)
        if row.send_count > 1 or (row.status == "sent" and row.send_count != 1):
            report.violations.append(f"row {row.id} status {row.status} send_count {row.send_count}")
        if row.status == "sent":
            key = (row.bot_id, row.text)
            if key in texts and position - texts[key][1] <= SEEN_KEEP:
                report.violations.append(f"bot {row.bot_id} sent the same text twice: rows {texts[key][0]} and "
                                         f"{row.id}: {row.text[:60]!r}")
            elif key in texts:
                report.repeats_beyond_window += 1
            texts[key] = (row.id, position)
            if row.reply_to is not None:
                answer = (row.bot_id, row.reply_to)
                if answer in answers and row.to_person:
                    report.violations.append(f"bot {row.bot_id} answered message {row.reply_to} twice: rows "
                                             f"{answers[answer]} and {row.id}")
                elif answer in answers:
                    report.double_replies_to_bots += 1
                answers.setdefault(answer, row.id)
    report.epochs_per_shard = dict(epochs)
    return report


# ── the fleet ────────────────────────────────────────────────────────────────────────────────
class Fleet:
    """Hosts sharing one (already created, empty) PostgreSQL database and one Redis key prefix."""

    def __init__(self, root: Path, database_url: str, redis_url: str, options: FleetOptions = FleetOptions(),
                 config: Path | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.redis_url = redis_url
        self.options = options
        self.prefix = f"piyasa-fleet-{uuid.uuid4().hex[:10]}"
        self.config = root / "config.toml"
        shutil.copy(config or REPO / "config.toml", self.config)
        self.hosts: dict[str, Host] = {}
        self.db: Engine = create_engine(database_url, poolclass=NullPool)

    def environ(self, host_id: str) -> dict[str, str]:
        """One host's environment: the shared database, Redis and fleet settings, its own id."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PIYASA_") and k not in ("DATABASE_URL", "REDIS_URL", "LLM_PROVIDER")}
        o = self.options
        env.update(DATABASE_URL=self.database_url, REDIS_URL=self.redis_url, PIYASA_CACHE__KEY_PREFIX=self.prefix,
                   PIYASA_FLEET__ENABLED="true", PIYASA_FLEET__HOST_ID=host_id,
                   PIYASA_FLEET__SHARDS=str(o.shards), PIYASA_FLEET__LEASE_TTL=str(o.lease_ttl),
                   PIYASA_FLEET__RENEW_EVERY=str(o.renew_every), PIYASA_TIME_SCALE=str(o.time_scale),
                   PIYASA_WORKERS=str(o.workers), PIYASA_ENGINE__START_AT=o.start_at,
                   PYTHONUNBUFFERED="1")
        env.update(dict(o.extra_env))
        return env

    def init(self) -> None:
        """`piyasa-tui init` once (migrations, bots and chats from config.toml)."""
        workdir = self.root / "init"
        workdir.mkdir(exist_ok=True)
        shutil.copy(self.config, workdir / "config.toml")
        result = subprocess.run([str(EXE), "init"], cwd=workdir, env=self.environ("init"), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    def host(self, host_id: str, *, partitionable: bool = False) -> Host:
        """The host ``host_id`` (made on first use, behind its own :class:`Partition` if
        ``partitionable``; not started)."""
        if host_id not in self.hosts:
            self.hosts[host_id] = Host(self, host_id, partitionable)
        assert not partitionable or self.hosts[host_id].partition is not None, f"{host_id} has no partition"
        return self.hosts[host_id]

    def start(self, *host_ids: str) -> list[Host]:
        """Start these hosts side by side and wait until each one's control API answers."""
        hosts = [self.host(h) for h in host_ids]
        for host in hosts:
            host.launch()
        for host in hosts:
            host.wait_ready()
        return hosts

    def live_hosts(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.running and not h.paused]

    # ── the database's view ──────────────────────────────────────────────────────────────────
    def leases(self) -> dict[int, tuple[str | None, int, bool]]:
        """shard → (holder, epoch, valid by the database's clock)."""
        with self.db.connect() as conn:
            rows = conn.execute(text(
                "SELECT name, holder, epoch, coalesce(expires_at > clock_timestamp(), false) FROM fleet_leases "
                "WHERE name LIKE 'shard:%'")).all()
        return {int(name.split(":", 1)[1]): (holder, int(epoch), bool(valid)) for name, holder, epoch, valid in rows}

    def holders(self) -> dict[int, str | None]:
        """shard → its valid holder (None: free or expired); every shard of the fleet."""
        leases = self.leases()
        return {s: (leases[s][0] if s in leases and leases[s][2] else None) for s in range(self.options.shards)}

    def spread(self, hosts: Iterable[str]) -> dict[str, list[int]] | None:
        """The shards of each of ``hosts`` when every shard is validly held by one of them and the counts
        differ by at most one; else None."""
        names = list(hosts)
        holders = self.holders()
        if any(h not in names for h in holders.values()):
            return None
        spread = {h: sorted(s for s, x in holders.items() if x == h) for h in names}
        counts = [len(v) for v in spread.values()]
        return spread if max(counts) - min(counts) <= 1 else None

    def bots(self) -> dict[int, str]:
        """The bots that talk (enabled, not switched off): id → username."""
        with self.db.connect() as conn:
            return {int(i): str(u) for i, u in conn.execute(text(
                "SELECT id, username FROM bots WHERE enabled AND NOT operator_disabled ORDER BY id"))}

    def rows(self, after_id: int = 0) -> list[Row]:
        """The bots' message rows with id > ``after_id``, in id order."""
        with self.db.connect() as conn:
            result = conn.execute(text(
                "SELECT * FROM (SELECT id, bot_id, status, send_count, text, metadata->'fleet'->>'host', "
                "metadata->'fleet'->>'lease', metadata->'fleet'->>'epoch', failure_reason, reply_to_id, "
                "count(*) FILTER (WHERE status = 'sent') OVER (PARTITION BY chat_id ORDER BY id), "
                "(SELECT q.bot_id IS NULL FROM messages q WHERE q.id = messages.reply_to_id) FROM messages) m "
                "WHERE bot_id IS NOT NULL AND id > :after ORDER BY id"), {"after": after_id}).all()
        return [Row(int(i), int(b), str(s), int(c), str(t), h, lease, None if e is None else int(e), f, r, int(n),
                    bool(person)) for i, b, s, c, t, h, lease, e, f, r, n, person in result]

    def last_id(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM messages")).scalar_one())

    def sent_by(self, bot_ids: Iterable[int], *, after_id: int, not_host: str | None = None) -> list[Row]:
        """Sent rows of ``bot_ids`` after ``after_id`` (written by a host other than ``not_host``)."""
        wanted = set(bot_ids)
        return [r for r in self.rows(after_id) if r.bot_id in wanted and r.status == "sent"
                and (not_host is None or r.host != not_host)]

    def report(self, *, final: bool = True) -> FencingReport:
        return fencing_report(self.rows(), self.options.shards, final=final)

    def close(self) -> None:
        """Stop every host, drop this fleet's Redis keys, close the database connections."""
        for host in self.hosts.values():
            host.close()
        try:
            drop_redis_keys(self.redis_url, self.prefix)
        finally:
            self.db.dispose()
