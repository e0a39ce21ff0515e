"""Fleet mode (issue 18) with real `piyasa-tui --serve` hosts on one PostgreSQL database and Redis:
three hosts share the shards evenly; a `kill -9`'d host's shards are taken over with a higher epoch
and its bots talk again; a paused host (SIGSTOP past the lease timeout) writes nothing once it wakes
and gives its shards up; a joining host moves at most its share; a drained host hands over and
exits 0. The messages table keeps the fencing invariant throughout (tests.fleet_support). Speed
goals (failover time, many failovers) are measured by bench/fleet.py, not asserted here."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from piyasa_core.fleet.assign import targets
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.fleet_support import EXE, Fleet, FleetOptions, Row, fencing_report, wait_for

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
            lease: str | None = None) -> Row:
        sent = 1 if status == "sent" else 0
        return Row(i, bot, status, sent if count is None else count, text or f"m{i}", "h1",
                   lease or f"shard:{bot % 4}", epoch, None)

    clean = [row(1, 1, 1), row(2, 5, 1), row(3, 1, 2, "failed"), row(4, 2, 1), row(5, 1, 2)]
    assert fencing_report(clean, 4).violations == []
    bad = [*clean, row(6, 5, 1), row(7, 2, 1, text="m4"), row(8, 3, 1, count=2), row(9, 3, 1, "pending"),
           row(10, 3, 1, lease="shard:0")]
    found = fencing_report(bad, 4).violations
    assert [v.split(" ")[0] for v in found] == ["shard", "bot", "row", "pending", "row"], found
    assert fencing_report(bad[:-2], 4, final=False).violations == found[:3]


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(300)
def test_a_fleet_of_serves_shares_fails_over_fences_rebalances_and_drains(fleet: Fleet) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}

    # ── three hosts: every shard held by exactly one live host, counts within one ─────────────────
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
    wait_for(lambda: all(fleet.holders()[s] in ("h1", "h3") for s in lost), TTL + 30, "the killed host's shards taken")
    timings["takeover after kill -9"] = time.monotonic() - killed
    assert all(fleet.leases()[s][1] > epochs[s] for s in lost)
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

    def gave_up() -> bool:
        """The woken host shows none of its old leases (it may take shards back later, with new epochs)."""
        shown = shown_shards(fleet, victim)
        leases = fleet.leases()
        return all(s not in shown or (leases[s][0] == victim and leases[s][1] > old[s]) for s in paused_shards)

    wait_for(gave_up, 30, "the woken host giving its lost shards up")
    spread = wait_for(lambda: settled(fleet, ["h1", "h3"]), 60, "the woken host taking its share back")
    stale = [r for r in fleet.rows(resumed_mark) if r.host == victim and r.bot_id % SHARDS in old
             and r.epoch is not None and r.epoch <= old[r.bot_id % SHARDS]]
    assert not stale, stale  # nothing written under the epochs it lost
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
