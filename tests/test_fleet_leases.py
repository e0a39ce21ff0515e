"""Fleet mode's parts on the real PostgreSQL: leases with expiry by the database's clock, fencing of
the outbox by the lease epoch, the even spread with few moves, and the agent's rounds."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from piyasa_core.engine.outbox import Outbox
from piyasa_core.fleet import hosts as host_rows
from piyasa_core.fleet import leases
from piyasa_core.fleet.agent import FleetAgent
from piyasa_core.fleet.assign import plan_moves, targets
from piyasa_core.store.models import Message
from tests.conftest import edit_config
from tests.test_outbox import _row, db  # noqa: F401 - `db`: a migrated database with one bot in one chat

pytestmark = pytest.mark.postgres


# ── the spread: even, and a join or a loss moves few shards ──────────────────────────────────────
def _settle(shards: int, hosts: list[str], holders: dict[int, str | None]) -> tuple[dict[int, str | None], int]:
    """Run every host's rounds until nothing moves; (holders, shards that changed holder)."""
    start = dict(holders)
    for _ in range(10):
        moved = False
        for host in hosts:
            release, take = plan_moves(host, shards, hosts, holders)
            for s in release:
                holders[s] = None
                moved = True
            for s in take:
                if holders.get(s) is None:
                    holders[s] = host
                    moved = True
        if not moved:
            break
    changed = sum(1 for s in range(shards) if start.get(s) is not None and start.get(s) != holders.get(s))
    return holders, changed


@pytest.mark.parametrize("shards", [4, 12, 13, 64])
def test_shards_spread_evenly_and_a_join_moves_at_most_its_share(shards: int) -> None:
    hosts = ["a", "b", "c"]
    holders, _ = _settle(shards, hosts, {s: None for s in range(shards)})
    counts = [sum(1 for h in holders.values() if h == host) for host in hosts]
    assert sorted(counts) == sorted(targets(shards, hosts).values()) and max(counts) - min(counts) <= 1
    joined = [*hosts, "d"]
    after, moved = _settle(shards, joined, dict(holders))
    assert moved <= math.ceil(shards / len(joined)), moved
    assert sorted(sum(1 for h in after.values() if h == x) for x in joined) == sorted(targets(shards, joined).values())
    # a host lost: only its shards move
    lost = {s: (None if h == "b" else h) for s, h in after.items()}
    survivors = ["a", "c", "d"]
    final, moved = _settle(shards, survivors, lost)
    assert moved == 0 and all(final[s] in survivors for s in range(shards))


# ── leases on PostgreSQL's clock ──────────────────────────────────────────────────────────────
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_lease_expires_by_the_databases_clock_and_every_holder_gets_a_new_epoch(db: tuple[Engine, int, int]) -> None:
    engine, _, _ = db
    name = leases.shard_lease(0)
    with engine.begin() as conn:
        leases.ensure(conn, [name])
        first = leases.acquire(conn, name, "h1", ttl=1.0)
        assert first == 1
        assert leases.acquire(conn, name, "h2", ttl=1.0) is None  # held
        assert leases.renew(conn, name, "h1", first, ttl=1.0)
    with engine.begin() as conn:  # the database's clock runs on: h1's lease ends without a renewal
        conn.execute(text("SELECT pg_sleep(1.1)"))
    with engine.begin() as conn:
        assert not leases.renew(conn, name, "h1", first, ttl=5.0)  # too late, even with nobody else there
        second = leases.acquire(conn, name, "h2", ttl=5.0)
        assert second == 2
        leases.release(conn, name, "h1", first)  # a stale release changes nothing
        assert [(x.holder, x.epoch, x.valid) for x in leases.read(conn, "shard:")] == [("h2", 2, True)]
        leases.release(conn, name, "h2", second)
        assert leases.acquire(conn, name, "h1", ttl=5.0) == 3


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_holder_that_lost_its_lease_cannot_write_the_shards_outbox(db: tuple[Engine, int, int]) -> None:
    """The paused or partitioned host's worker wakes up and writes: insert and mark_sent are refused
    in the same transaction; what it wrote before the takeover stays pending for the new holder."""
    engine, bot_id, chat_id = db
    name = leases.shard_lease(bot_id % 12)
    with engine.begin() as conn:
        leases.ensure(conn, [name])
        epoch = leases.acquire(conn, name, "h1", ttl=0.5)
    assert epoch is not None
    fence = (name, "h1", epoch)
    outbox = Outbox(engine)
    early = await outbox.add_pending(fence=fence, **_row(bot_id, chat_id, "önce"))
    await asyncio.sleep(0.6)  # the lease ran out while the host was away
    with pytest.raises(leases.Fenced):  # expired, even before anyone took over
        await outbox.add_pending(fence=fence, **_row(bot_id, chat_id, "süresi dolmuş"))
    with engine.begin() as conn:
        assert leases.acquire(conn, name, "h2", ttl=10.0) == epoch + 1
    with pytest.raises(leases.Fenced):
        await outbox.mark_sent(early, None, 1_764_000_001.0, fence=fence)
    with pytest.raises(leases.Fenced):
        await outbox.add_pending(fence=fence, **_row(bot_id, chat_id, "sonra"))
    # unfenced work in the same batch is not lost with the fenced write
    fenced, other = await asyncio.gather(outbox.add_pending(fence=fence, **_row(bot_id, chat_id, "x")),
                                         outbox.add_pending(**_row(bot_id, chat_id, "başka")), return_exceptions=True)
    assert isinstance(fenced, leases.Fenced) and isinstance(other, int)
    new = (name, "h2", epoch + 1)
    later = await outbox.add_pending(fence=new, **_row(bot_id, chat_id, "yeni sahip"))
    await outbox.mark_sent(later, None, 1_764_000_002.0, fence=new)
    outbox.close()
    with engine.connect() as conn:
        rows = dict(conn.execute(select(Message.text, Message.status)).all())
    assert rows == {"önce": "pending", "başka": "pending", "yeni sahip": "sent"}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_takeover_waits_for_a_write_in_flight_under_the_old_epoch(db: tuple[Engine, int, int]) -> None:
    """The fence's FOR SHARE lock: a takeover cannot commit between the check and the write."""
    engine, _, _ = db
    name = leases.shard_lease(5)
    with engine.begin() as conn:
        leases.ensure(conn, [name])
        epoch = leases.acquire(conn, name, "h1", ttl=0.3)
    writer = engine.connect()
    writer.begin()
    leases.fence_check(writer, (name, "h1", epoch))  # the check passes; the write is still to come
    time.sleep(0.4)  # the lease expires meanwhile
    took: list[int | None] = []
    refused = threading.Event()
    done = threading.Event()

    def take() -> None:  # as the agent does: a round that waited too long tries again next round
        while not done.is_set():
            try:
                took.append(_acquire(engine, name, "h2", ttl=1.0))
                return
            except OperationalError:
                refused.set()

    thread = threading.Thread(target=take)
    thread.start()
    assert refused.wait(timeout=30) and not took  # the lock timeout ran out while the writer held the row
    writer.commit()
    writer.close()
    thread.join(timeout=30)
    done.set()
    assert took == [epoch + 1]


def _acquire(engine: Engine, name: str, holder: str, ttl: float) -> int | None:
    with engine.begin() as conn:
        return leases.acquire(conn, name, holder, ttl)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_writer_cut_off_inside_its_transaction_does_not_block_the_takeover(db: tuple[Engine, int, int]) -> None:
    """A partition between the fence check and the commit: the server ends the silent session (fleet
    hosts connect with stall limits), its lock goes, and another host takes the lease while the cut
    lasts; the cut writer's late commit fails."""
    from piyasa_core.store.db import make_engine
    from tests.fleet_support import Partition, through

    engine, _, _ = db
    name = leases.shard_lease(6)
    with engine.begin() as conn:
        leases.ensure(conn, [name])
    epoch = _acquire(engine, name, "h1", ttl=1.0)
    assert epoch is not None
    cut_off = Partition([("127.0.0.1", engine.url.port or 5432)])
    far = make_engine(through(engine.url.render_as_string(hide_password=False), cut_off.ports[0]), stall_s=1.0)
    try:
        writer = far.connect()
        writer.begin()
        leases.fence_check(writer, (name, "h1", epoch))
        cut_off.cut()
        deadline, took = time.monotonic() + 60, None
        while took is None and time.monotonic() < deadline:
            try:
                took = _acquire(engine, name, "h2", ttl=5.0)
            except OperationalError:  # still locked: the next round tries again
                pass
            if took is None:
                time.sleep(0.2)
        assert cut_off.is_cut and took == epoch + 1, "the takeover waited for a writer that went silent"
        cut_off.heal()
        with pytest.raises(DBAPIError):  # its session was ended by the server: nothing it wrote commits
            writer.execute(text("SELECT 1"))
            writer.commit()
        writer.invalidate()
    finally:
        far.dispose()
        cut_off.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_agents_share_the_shards_take_over_a_silent_host_and_drain(db: tuple[Engine, int, int]) -> None:
    engine, _, _ = db
    told: dict[str, dict[int, dict[int, int]]] = {"a": {}, "b": {}, "c": {}}

    def agent(host: str) -> FleetAgent:
        return FleetAgent(engine, host_id=host, shards=12, lease_ttl=1.0, renew_every=0.3, workers=2,
                          apply=lambda worker, epochs: told[host].__setitem__(worker, epochs))

    a, b = agent("a"), agent("b")
    for _ in range(3):
        a.step()
        b.step()
    assert len(a.held) == 6 and len(b.held) == 6 and not set(a.held) & set(b.held)
    assert {s for w in told["a"].values() for s in w} == set(a.held)  # the workers were told
    assert all(s % 2 == w for w, epochs in told["a"].items() for s in epochs)  # a whole shard per worker
    c = agent("c")
    moved_before = a.view.moves + b.view.moves
    for _ in range(4):
        for x in (a, b, c):
            x.step()
    assert sorted(len(x.held) for x in (a, b, c)) == [4, 4, 4]
    assert a.view.moves + b.view.moves - moved_before <= 4  # released only what c needed
    # b falls silent (killed): after the lease timeout a and c hold everything, with new epochs
    epochs_b = dict(b.held)
    time.sleep(0.3)
    with engine.connect() as conn:
        age_b = next(h.age_s for h in host_rows.read(conn) if h.host_id == "b")
    a.every = 5.0  # a long round: a's next look must come from b's silence, when b stops counting as live
    a.step()
    a.every = 0.3
    taken = set(a.held) & set(epochs_b)  # (a host stalled past b's leases: a took them in that very round)
    assert taken or a.next_round <= 1.0 - age_b + 0.05, (a.next_round, age_b)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(a.held) + len(c.held) < 12:
        time.sleep(0.3)
        a.step()
        c.step()
    assert len(a.held) + len(c.held) == 12
    assert all((a.held.get(s) or c.held.get(s)) > e for s, e in epochs_b.items())
    # a drains: its shards go to c; then it leaves the fleet
    a.draining = True
    for _ in range(4):
        a.step()
        c.step()
    assert not a.held and len(c.held) == 12
    a.release_all()
    c.release_all()


def test_fleet_mode_refuses_sqlite_with_the_file_and_key(workdir: Path) -> None:
    from piyasa_core.config import load_config
    from piyasa_core.errors import ConfigError

    edit_config(workdir / "config.toml", "enabled = false             # true: shards are held by leases",
                "enabled = true              # true: shards are held by leases")
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert "config.toml" in message and "[fleet] enabled" in message and "PostgreSQL" in message
    assert "\n" not in message


async def test_a_round_the_database_never_answers_drops_the_shards_once_their_lease_surely_ended() -> None:
    """A partition: established connections hang instead of failing. The agent does not wait for the
    hung round; once a lease's local deadline (last renewal + ttl) passed, its workers stop the shard."""
    told: dict[int, dict[int, int]] = {}
    agent = FleetAgent(None, host_id="p", shards=4, lease_ttl=1.0, renew_every=0.2, workers=2,  # type: ignore[arg-type]
                       apply=lambda worker, epochs: told.__setitem__(worker, epochs))
    agent.held = {0: 3, 1: 3}
    agent.deadline = {0: time.monotonic() + 0.6, 1: time.monotonic() + 0.6}
    agent._tell_workers()
    agent.view.holders = {0: "p", 1: "p", 2: "q", 3: "q"}  # as its last answered round saw them
    agent.view.hosts = [{"host_id": "p", "shards": [0, 1]}, {"host_id": "q", "shards": [2, 3]}]
    assert told == {0: {0: 3}, 1: {1: 3}}
    hung = threading.Event()
    agent.step = lambda: hung.wait(10)  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    deadline = time.monotonic() + 10
    while (told[0] or told[1]) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert told == {0: {}, 1: {}} and not agent.held and "did not answer" in agent.view.error
    # its status no longer claims what it dropped (who holds them now it cannot know from here)
    assert agent.view.holders == {0: None, 1: None, 2: "q", 3: "q"}
    assert [h["shards"] for h in agent.view.hosts] == [[], [2, 3]]
    stop.set()
    hung.set()
    await task


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_hosts_join_one_simulated_timeline_and_the_first_live_host_anchors_it(db: tuple[Engine, int, int]) -> None:
    """A host restarted while others run continues their simulated time (not its own start_at again);
    with no other host live, a start anchors the timeline from its own settings."""
    from piyasa_core.fleet import hosts as host_rows
    from piyasa_core.fleet.timeline import shared_timeline

    engine, _, _ = db

    def beat(host: str) -> None:
        with engine.begin() as conn:
            host_rows.beat(conn, host_id=host, address="127.0.0.1:1", workers=1, version="t", draining=False,
                           summary={}, starting=True)

    began = time.monotonic()
    first = shared_timeline(engine, host_id="h1", sim_start=1_000.0, time_scale=60.0, ttl=10.0)
    assert (first.sim_now, first.time_scale, first.joined) == (1_000.0, 60.0, False)
    beat("h1")
    time.sleep(0.2)
    second = shared_timeline(engine, host_id="h2", sim_start=9_000.0, time_scale=1.0, ttl=10.0)
    elapsed = time.monotonic() - began
    assert second.joined and second.time_scale == 60.0  # the fleet's scale, not its own
    assert 1_000.0 + 0.2 * 60 <= second.sim_now <= 1_000.0 + elapsed * 60 + 1, (second, elapsed)
    beat("h2")
    restarted = shared_timeline(engine, host_id="h2", sim_start=9_000.0, time_scale=1.0, ttl=10.0)
    assert restarted.joined  # h1 is still live: h2's own earlier row does not count, h1's does
    with engine.begin() as conn:  # h1 went away an hour ago
        conn.execute(text("UPDATE fleet_hosts SET heartbeat_at = clock_timestamp() - interval '1 hour' "
                          "WHERE host_id = 'h1'"))
    alone = shared_timeline(engine, host_id="h2", sim_start=9_000.0, time_scale=1.0, ttl=10.0)
    assert (alone.sim_now, alone.time_scale, alone.joined) == (9_000.0, 1.0, False)
