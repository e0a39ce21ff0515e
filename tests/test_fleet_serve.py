"""Fleet mode (issue 18) with real `piyasa-tui --serve` hosts on one PostgreSQL database and Redis:
three hosts share the shards evenly; a `kill -9`'d host's shards are taken over with a higher epoch
and its bots talk again; a paused host (SIGSTOP past the lease timeout) writes nothing once it wakes
and gives its shards up; a partitioned host (a proxy in front of PostgreSQL and Redis dropping every
byte, then delivering them late) is fenced the same way; a question put to a killed host's bot is
answered after the takeover; a joining host moves at most its share; a drained host hands over and
exits 0. The messages table keeps the fencing invariant throughout (tests.fleet_support). Speed
goals (failover time, many failovers) are measured by bench/fleet.py, not asserted here."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from piyasa_core.engine.dedup import SEEN_KEEP
from piyasa_core.fleet.assign import targets
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.fleet_support import EXE, Fleet, FleetOptions, Host, Partition, Row, fencing_report, wait_for

SHARDS = 4  # the default config's four talking bots (ids 1-4): one per shard, so every host runs bots
TTL = 3.0


@pytest.fixture
def fleet(tmp_path: Path, redis_url: str) -> Iterator[Fleet]:
    """An initialised fleet on a fresh PostgreSQL database (hosts not started); everything is
    stopped, the Redis keys and the database dropped afterwards."""
    name, url = _create_pg_database()
    fleet = Fleet(tmp_path / "fleet", url, redis_url, FleetOptions(shards=SHARDS, lease_ttl=TTL, workers=2))
    try:
        fleet.init()
        yield fleet
    finally:
        try:
            fleet.close()
        finally:
            _drop_pg_database(name)


def settled(fleet: Fleet, hosts: list[str]) -> dict[str, list[int]] | None:
    """Each host's shards once every shard is validly held by ``hosts`` exactly as their targets say."""
    spread = fleet.spread(hosts)
    want = targets(SHARDS, hosts)
    return spread if spread is not None and all(len(spread[h]) == want[h] for h in hosts) else None


def bots_of(fleet: Fleet, shards: list[int]) -> list[int]:
    return [b for b in fleet.bots() if b % SHARDS in shards]


def sent_from(fleet: Fleet, host: str, after_id: int = 0) -> list[Row]:
    """Rows ``host`` sent (after ``after_id``)."""
    return [r for r in fleet.rows(after_id) if r.host == host and r.status == "sent"]


def shown_shards(fleet: Fleet, host: str) -> list[int]:
    """The shards ``host``'s own status says it holds."""
    view = fleet.hosts[host].status()["fleet"]
    return sorted(int(s) for s, holder in view["holders"].items() if holder == host)


def gave_up(fleet: Fleet, host: str, lost: dict[int, int]) -> bool:
    """``host`` shows none of the leases it lost (shard → the epoch it had): it may show a shard again
    only when it took it back, with a higher epoch."""
    shown = shown_shards(fleet, host)
    leases = fleet.leases()
    return all(s not in shown or (leases[s][0] == host and leases[s][1] > lost[s]) for s in lost)


def stale_rows(fleet: Fleet, host: str, lost: dict[int, int], after_id: int) -> list[Row]:
    """Rows after ``after_id`` that ``host`` wrote under an epoch it lost (none may exist)."""
    return [r for r in fleet.rows(after_id) if r.host == host and r.bot_id % SHARDS in lost
            and r.epoch is not None and r.epoch <= lost[r.bot_id % SHARDS]]


def ask(host: Host, text: str) -> dict[str, Any]:
    """A person's message in the local chat, posted through ``host``'s control API."""
    from piyasa_core.control.client import ControlClient
    from piyasa_core.secrets import Secret

    async def run() -> dict[str, Any]:
        async with ControlClient(host.url, Secret(host.token), 10) as client:
            return await client.post_human("piyasa-local", text, "Okur")

    return asyncio.run(run())


def answered(fleet: Fleet, question: int, bot_id: int) -> bool:
    """``bot_id`` has a 'sent' answer to the person's message ``question``."""
    with fleet.db.connect() as conn:
        return conn.execute(text("SELECT 1 FROM messages WHERE status = 'sent' AND reply_to_id = :q AND bot_id = :b"),
                            {"q": question, "b": bot_id}).first() is not None


def assert_fenced(fleet: Fleet, *, final: bool) -> None:
    report = fleet.report(final=final)
    assert not report.violations, "\n".join(report.violations[:20])


def fenced_outcomes(fleet: Fleet) -> int:
    """Messages the live hosts' workers dropped because their shard's lease moved (as far as visible)."""
    total = 0
    for host in fleet.live_hosts():
        total += sum(w.get("counts", {}).get("fenced", 0) for w in host.status()["workers"])
    return total


def test_fencing_report_finds_every_kind_of_violation() -> None:
    def row(i: int, bot: int, epoch: int, status: str = "sent", text: str = "", count: int | None = None,
            lease: str | None = None, reply_to: int | None = None, to_person: bool = True) -> Row:
        sent = 1 if status == "sent" else 0
        return Row(i, bot, status, sent if count is None else count, text or f"m{i}", "h1",
                   lease or f"shard:{bot % 4}", epoch, None, reply_to, to_person=to_person)

    clean = [row(1, 1, 1), row(2, 5, 1), row(3, 1, 2, "failed"), row(4, 2, 1), row(5, 1, 2, reply_to=90),
             row(6, 2, 1, reply_to=90)]  # two bots answering one message is a conversation
    assert fencing_report(clean, 4).violations == []
    bad = [*clean, row(7, 5, 1), row(8, 2, 1, text="m4"), row(9, 3, 1, count=2), row(10, 1, 2, reply_to=90),
           row(11, 3, 1, "pending"), row(12, 3, 1, lease="shard:0")]
    found = fencing_report(bad, 4).violations
    assert [v.split(" ")[0] for v in found] == ["shard", "bot", "row", "bot", "pending", "row"], found
    assert "answered message 90 twice: rows 5 and 10" in found[3]
    assert fencing_report(bad[:-2], 4, final=False).violations == found[:4]
    # the same text again beyond the dedup window is a persona's habit, counted apart
    far = [row(1, 2, 1, text="rica ederim"), *(row(i, 1, 1) for i in range(2, SEEN_KEEP + 3)),
           row(SEEN_KEEP + 3, 2, 1, text="rica ederim")]
    habit = fencing_report(far, 4)
    assert habit.violations == [] and habit.repeats_beyond_window == 1
    # a bot replying twice to another bot's message is the conversation's doing, counted apart
    chat = fencing_report([row(1, 1, 1, reply_to=80, to_person=False), row(2, 1, 1, reply_to=80, to_person=False)], 4)
    assert chat.violations == [] and chat.double_replies_to_bots == 1


def test_a_partition_holds_every_byte_and_close_until_it_heals() -> None:
    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(4096):
                self.request.sendall(data)
            closed.set()

    closed = threading.Event()
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        partition = Partition([server.server_address[:2]])
        try:
            port = partition.ports[0]
            before = socket.create_connection(("127.0.0.1", port), timeout=5)
            before.sendall(b"a")
            assert before.recv(10) == b"a"
            partition.cut()
            before.sendall(b"b")
            during = socket.create_connection(("127.0.0.1", port), timeout=5)  # accepted while cut
            during.sendall(b"c")
            closing = socket.create_connection(("127.0.0.1", port), timeout=5)
            closing.close()
            for sock in (before, during):
                sock.settimeout(0.5)
                with pytest.raises(TimeoutError):
                    sock.recv(10)
            assert not closed.is_set()  # not even a close crosses the cut
            partition.heal()
            before.settimeout(5)
            during.settimeout(5)
            assert before.recv(10) == b"b" and during.recv(10) == b"c"
            assert closed.wait(5)
            before.close()
            during.close()
        finally:
            partition.close()
        server.shutdown()


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(300)
def test_a_fleet_of_serves_shares_fails_over_fences_rebalances_and_drains(fleet: Fleet) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}

    # ── three hosts: every shard held by exactly one live host, counts within one ─────────────────
    fleet.host("h1", partitionable=True)  # it reaches PostgreSQL and Redis through a proxy the test can cut
    fleet.start("h1", "h2", "h3")
    spread = wait_for(lambda: settled(fleet, ["h1", "h2", "h3"]), 60, "three hosts sharing the shards")
    assert sorted(s for shards in spread.values() for s in shards) == list(range(SHARDS))
    as_json = subprocess.run([str(EXE), "status", "--json", "--url", fleet.hosts["h1"].url], capture_output=True,
                             text=True, cwd=fleet.hosts["h1"].workdir, env=fleet.environ("h1"), timeout=60)
    assert as_json.returncode == 0, as_json.stderr
    view = json.loads(as_json.stdout)["fleet"]
    assert view["host_id"] == "h1" and view["shards"] == SHARDS and view["lease_ttl"] == TTL
    assert {h["host_id"] for h in view["hosts"] if h["live"]} == {"h1", "h2", "h3"}
    wait_for(lambda: all(shown_shards(fleet, h) == spread[h] for h in spread), 30, "each host shows its shards")
    for host in spread:  # every host really runs bots
        wait_for(lambda: sent_from(fleet, host), 60, f"{host}'s bots talking")
    assert_fenced(fleet, final=False)

    # ── kill -9: the others take its shards over with a higher epoch, and its bots talk again ──────
    victim, lost = "h2", spread["h2"]
    epochs = {s: fleet.leases()[s][1] for s in lost}
    mark = fleet.last_id()
    killed = time.monotonic()
    fleet.hosts[victim].kill()
    asked_bot = bots_of(fleet, lost)[0]  # its job goes to the dead holder, and is lost there
    asked = ask(fleet.hosts["h1"], f"@{fleet.bots()[asked_bot]} şimdi altın mı dolar mı?")
    assert asked_bot in asked["answering"], asked
    wait_for(lambda: all(fleet.holders()[s] in ("h1", "h3") for s in lost), TTL + 30, "the killed host's shards taken")
    timings["takeover after kill -9"] = time.monotonic() - killed
    assert all(fleet.leases()[s][1] > epochs[s] for s in lost)
    wait_for(lambda: answered(fleet, int(asked["message_id"]), asked_bot), 60,
             "the question to the killed host's bot answered after the takeover", every=0.5)
    timings["question answered after kill -9"] = time.monotonic() - killed
    again = wait_for(lambda: fleet.sent_by(bots_of(fleet, lost), after_id=mark, not_host=victim), 60,
                     "the killed host's bots talking from another host")
    timings["first message after kill -9"] = time.monotonic() - killed
    assert again[0].host in ("h1", "h3") and again[0].epoch is not None and again[0].epoch > epochs[again[0].bot_id % SHARDS]
    spread = wait_for(lambda: settled(fleet, ["h1", "h3"]), 60, "two hosts sharing the shards")
    assert_fenced(fleet, final=False)

    # ── SIGSTOP past the lease: taken over; after SIGCONT it writes nothing and gives its shards up ─
    victim, other = "h3", "h1"
    paused_shards = spread[victim]
    mark = fleet.last_id()
    wait_for(lambda: sent_from(fleet, victim, mark), 60, f"{victim}'s bots talking")
    old = {s: fleet.leases()[s][1] for s in paused_shards}
    fleet.hosts[victim].pause()
    paused_at = time.monotonic()
    in_flight = [r.id for r in fleet.rows() if r.status == "pending" and r.host == victim]
    mark = fleet.last_id()
    wait_for(lambda: all(fleet.holders()[s] == other for s in paused_shards), TTL + 30, "the paused host's shards taken")
    assert all(fleet.leases()[s][1] > old[s] for s in paused_shards)
    wait_for(lambda: fleet.sent_by(bots_of(fleet, paused_shards), after_id=mark, not_host=victim), 60,
             "the paused host's bots talking from the other host")
    wait_for(lambda: time.monotonic() - paused_at > TTL + 1, TTL + 1, "a pause longer than the lease")
    resumed_mark = fleet.last_id()
    fleet.hosts[victim].resume()

    wait_for(lambda: gave_up(fleet, victim, old), 30, "the woken host giving its lost shards up")
    spread = wait_for(lambda: settled(fleet, ["h1", "h3"]), 60, "the woken host taking its share back")
    stale = stale_rows(fleet, victim, old, resumed_mark)
    assert not stale, stale  # nothing written under the epochs it lost
    rows = {r.id: r for r in fleet.rows()}
    assert all(rows[i].status != "sent" for i in in_flight), [rows[i] for i in in_flight]
    assert_fenced(fleet, final=False)

    # ── a partition past the lease (no byte passes either way, then all of them arrive late): the
    #    others take its shards over; once healed it writes nothing under the lost epochs ──────────
    victim, other = "h1", "h3"
    partition = fleet.hosts[victim].partition
    assert partition is not None
    cut_shards = spread[victim]
    mark = fleet.last_id()
    wait_for(lambda: sent_from(fleet, victim, mark), 60, f"{victim}'s bots talking")
    old = {s: fleet.leases()[s][1] for s in cut_shards}
    partition.cut()
    cut_at = time.monotonic()
    in_flight = [r.id for r in fleet.rows() if r.status == "pending" and r.host == victim]
    mark = fleet.last_id()
    wait_for(lambda: all(fleet.holders()[s] == other and fleet.leases()[s][1] > old[s] for s in cut_shards),
             TTL + 30, "the cut host's shards taken over")
    timings["takeover after a cut"] = time.monotonic() - cut_at
    taken_mark = fleet.last_id()  # from here on, a row of the cut host under an old epoch is stale
    wait_for(lambda: fleet.sent_by(bots_of(fleet, cut_shards), after_id=mark, not_host=victim), 60,
             "the cut host's bots talking from the other host")
    wait_for(lambda: time.monotonic() - cut_at > TTL + 1, TTL + 2, "a cut longer than the lease")
    partition.heal()
    wait_for(lambda: gave_up(fleet, victim, old), 30, "the healed host giving its lost shards up")
    spread = wait_for(lambda: settled(fleet, ["h1", "h3"]), 60, "the healed host taking its share back")
    stale = stale_rows(fleet, victim, old, taken_mark)
    assert not stale, stale
    rows = {r.id: r for r in fleet.rows()}
    assert all(rows[i].status != "sent" for i in in_flight), [rows[i] for i in in_flight]
    assert_fenced(fleet, final=False)

    # ── a new host joins: at most ceil(S / hosts) shards change holder ─────────────────────────────
    before = fleet.holders()
    fleet.start("h4")
    spread = wait_for(lambda: settled(fleet, ["h1", "h3", "h4"]), 60, "the joined host taking its share")
    after = fleet.holders()
    moved = sum(1 for s in range(SHARDS) if before[s] != after[s])
    assert 1 <= moved <= math.ceil(SHARDS / 3), (before, after)

    # ── drain: its shards go to the others, and its serve exits 0 ──────────────────────────────────
    drained = "h1" if spread["h1"] else "h3"
    handed = spread[drained]
    epochs = {s: fleet.leases()[s][1] for s in handed}
    answer = fleet.hosts[drained].drain()
    assert answer["ok"] and answer["host"] == drained and answer["shards"] == len(handed)
    assert fleet.hosts[drained].wait_exit(timeout=4 * TTL + 60) == 0
    rest = [h for h in ("h1", "h3", "h4") if h != drained]
    wait_for(lambda: settled(fleet, rest), 60, "the drained host's shards taken")
    assert all(fleet.leases()[s][1] > epochs[s] for s in handed)
    with fleet.db.connect() as conn:
        assert drained not in {h for (h,) in conn.execute(text("SELECT host_id FROM fleet_hosts"))}
    fenced = fenced_outcomes(fleet)

    # ── a clean stop of the rest; nothing is left pending, and the invariant held throughout ──────
    for host in rest:
        fleet.hosts[host].proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert [fleet.hosts[h].wait_exit(60) for h in rest] == [0, 0]
    report = fleet.report(final=True)
    assert not report.violations, "\n".join(report.violations[:20])
    assert report.sent > 0 and report.pending == 0
    print(f"fleet e2e in {time.monotonic() - started:.1f} s: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
          + f"; {report.sent} sent, {report.failed} failed {dict(report.failure_reasons)}, "
          f"{fenced} fenced (live hosts' counts), epochs per shard {report.epochs_per_shard}")
