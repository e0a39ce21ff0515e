"""Fleet mode on the command line (issue 18): the fleet as the snapshot carries it, the `status`
command's fleet section, and `piyasa-tui drain` against a real control API over HTTP with a scripted
target — no workers, no database, no wall-clock waits."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from piyasa_core.control import ControlClient, ControlServer
from piyasa_core.secrets import Secret
from piyasa_core.workers.snapshot import Snapshot
from piyasa_tui.commands import render_status
from piyasa_tui.fleet import read_fleet, shard_ranges, workers_text
from piyasa_tui.fleet_cli import DrainTimeout, NotFleet, drain
from piyasa_tui.source import sample_fleet, sample_snapshot

NOW = 1741950131.0  # 2025-03-14 14:02:11 in Istanbul


def fleet_snapshot(*, failover: bool = False, **changes: Any) -> Snapshot:
    """The sample snapshot as the first host of a three-host fleet (``changes``: keys of its fleet)."""
    snap = sample_snapshot(NOW)
    fleet = {**sample_fleet(snap, failover=failover), **changes}
    return dataclasses.replace(snap, fleet=fleet)


# ── what the snapshot's fleet says ───────────────────────────────────────────────────────────────
def test_the_fleet_is_read_tolerantly_and_summed_up() -> None:
    fleet = read_fleet(fleet_snapshot(failover=True).fleet)
    assert fleet is not None and fleet.host_id == "piyasa-a" and fleet.here is not None
    assert [(h.host_id, h.state, h.held, h.target) for h in fleet.hosts] == [
        ("piyasa-a", "live", 4, 6), ("piyasa-b", "live", 4, 6), ("piyasa-c", "gone", 0, 0)]
    assert fleet.unheld == (2, 5, 8, 11) and fleet.holding == 2 and fleet.others_live() == ("piyasa-b",)
    assert fleet.shards_line() == "shards: 12, lease 10 s, held by 2 hosts, unheld: 2, 5, 8, 11"
    assert read_fleet(None) is None
    # a host an older agent described without its summary: unknown figures, not an error
    bare = read_fleet({"host_id": "a", "shards": 2, "lease_ttl": 10, "holders": {"0": "a", "1": None},
                       "hosts": [{"host_id": "a", "live": True}]})
    assert bare is not None and bare.hosts[0].shards == (0,) and bare.hosts[0].rate_1m is None
    assert bare.shards_line() == "shards: 2, lease 10 s, held by 1 host, unheld: 1"
    assert shard_ranges([8, 0, 1, 2, 3, 10, 11]) == "0-3, 8, 10-11" and shard_ranges([]) == "–"
    assert workers_text(["running", "backoff", "running"]) == "2 running, 1 backoff" and workers_text([]) == "–"


# ── `status` ─────────────────────────────────────────────────────────────────────────────────────
def _status_text(snapshot: Snapshot) -> str:
    out = io.StringIO()
    render_status(snapshot.to_dict(), Console(file=out, width=120, highlight=False, color_system=None))
    return out.getvalue()


def test_status_shows_every_host_marks_this_one_and_the_shards_line() -> None:
    text = _status_text(fleet_snapshot(failover=True))
    assert "fleet (this host: piyasa-a; 1m/10m: msg/min)" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "piyasa-" in line and "│" in line}
    assert set(rows) == {"● piyasa-a", "piyasa-b", "piyasa-c"}
    assert "live (here)" in rows["● piyasa-a"] and "4/6" in rows["● piyasa-a"] and "0, 3, 6, 9" in rows["● piyasa-a"]
    assert "3 running, 1 backoff" in rows["● piyasa-a"] and "4.6" in rows["● piyasa-a"]
    assert "gone" in rows["piyasa-c"] and "41 s" in rows["piyasa-c"] and "0/0" in rows["piyasa-c"]
    assert "402" in rows["piyasa-b"] and "2.8" in rows["piyasa-b"] and "1.9 s" in rows["piyasa-b"]
    narrow = io.StringIO()  # 80 columns: the shard ids on a line of their own
    render_status(fleet_snapshot().to_dict(), Console(file=narrow, width=80, highlight=False, color_system=None))
    assert "which: piyasa-a 0, 3, 6, 9 · piyasa-b 1, 4, 7, 10 · piyasa-c 2, 5, 8, 11" in narrow.getvalue()
    assert "shards: 12, lease 10 s, held by 2 hosts, unheld: 2, 5, 8, 11" in text
    assert "fleet" not in _status_text(sample_snapshot(NOW)).split("workers")[0]  # not in fleet mode: no section


# ── `piyasa-tui drain` over HTTP ─────────────────────────────────────────────────────────────────
class DrainTarget:
    """A serve's control target: its fleet view hands a shard over at each status read after the drain;
    ``fleet=None`` is a serve not in fleet mode."""

    def __init__(self, fleet: dict[str, Any] | None) -> None:
        self.fleet = fleet
        self.drained = False
        self.reads = 0

    def snapshot_dict(self) -> dict[str, Any]:
        self.reads += 1
        if self.fleet is not None and self.drained:
            mine = [s for s, h in self.fleet["holders"].items() if h == self.fleet["host_id"]]
            if mine:
                self.fleet["holders"][mine[0]] = "piyasa-b"
        return {"fleet": self.fleet}

    async def drain_host(self) -> dict[str, Any]:
        if self.fleet is None:
            raise ValueError("drain needs fleet mode ([fleet] enabled = true)")
        self.drained = True
        held = sum(1 for h in self.fleet["holders"].values() if h == self.fleet["host_id"])
        return {"ok": True, "host": self.fleet["host_id"], "shards": held}


@pytest.fixture
def token() -> Secret:
    return Secret("ctl-" + secrets.token_urlsafe(24))


async def _serve(target: DrainTarget, token: Secret) -> ControlServer:
    server = ControlServer(target, token, "127.0.0.1", 0)  # type: ignore[arg-type]
    await server.start()
    return server


@pytest.fixture
async def fleet_server(token: Secret) -> AsyncIterator[tuple[ControlServer, DrainTarget]]:
    target = DrainTarget(sample_fleet(sample_snapshot(NOW)))
    server = await _serve(target, token)
    yield server, target
    await server.stop()


async def test_drain_says_what_it_hands_over_and_waits_until_none_is_held(fleet_server, token: Secret) -> None:
    server, target = fleet_server
    lines: list[str] = []
    async with ControlClient(server.url, token) as client:  # type: ignore[arg-type]
        assert await drain(client, lines.append, poll_s=0) == 0
    assert target.drained
    assert lines[0] == f"draining piyasa-a ({server.url}): 4 shard(s) to hand over → piyasa-b, piyasa-c"
    assert lines[1:4] == ["piyasa-a: 3 shard(s) left", "piyasa-a: 2 shard(s) left", "piyasa-a: 1 shard(s) left"]
    assert lines[-1].startswith("piyasa-a holds no shard now and stops by itself")


async def test_drain_ends_when_the_serve_is_gone(fleet_server, token: Secret) -> None:
    server, target = fleet_server
    lines: list[str] = []

    async def stop_the_serve(_: float) -> None:  # the serve exits after the drain: its API goes first
        await server.stop()

    async with ControlClient(server.url, token) as client:  # type: ignore[arg-type]
        assert await drain(client, lines.append, sleep=stop_the_serve) == 0
    assert lines[-1].startswith("piyasa-a has stopped: its control API is gone (") and "is piyasa-tui" not in lines[-1]


async def test_drain_gives_up_after_the_timeout(token: Secret) -> None:
    target = DrainTarget(sample_fleet(sample_snapshot(NOW)))
    target.snapshot_dict = lambda: {"fleet": target.fleet}  # type: ignore[method-assign]  # never hands over
    server = await _serve(target, token)
    ticks = iter(range(0, 1000, 10))
    try:
        async with ControlClient(server.url, token) as client:  # type: ignore[arg-type]
            with pytest.raises(DrainTimeout, match=r"piyasa-a still holds 4 shard\(s\) after 30 s"):
                await drain(client, lambda line: None, timeout=25, poll_s=0, clock=lambda: float(next(ticks)))
    finally:
        await server.stop()


async def test_drain_refuses_a_host_not_in_fleet_mode(token: Secret) -> None:
    server = await _serve(DrainTarget(None), token)
    try:
        async with ControlClient(server.url, token) as client:  # type: ignore[arg-type]
            with pytest.raises(NotFleet) as caught:
                await drain(client, lambda line: None, poll_s=0)
    finally:
        await server.stop()
    assert str(caught.value) == f"{server.url} is not a fleet host: drain needs fleet mode ([fleet] enabled = true)"
    assert caught.value.exit_code == 2


async def test_the_drain_command_exit_codes_and_one_line_errors(workdir: Path, token: Secret, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from piyasa_tui.cli import main

    monkeypatch.setenv("PIYASA_CONTROL_TOKEN", token.reveal())
    target = DrainTarget(sample_fleet(sample_snapshot(NOW)))
    server = await _serve(target, token)
    try:
        monkeypatch.setattr("piyasa_tui.fleet_cli.POLL_S", 0.0)
        assert await asyncio.to_thread(main, ["drain", "--url", server.url]) == 0
        out = capsys.readouterr().out
        assert "draining piyasa-a" in out and "holds no shard now" in out
        target.fleet = None
        assert await asyncio.to_thread(main, ["drain", "--url", server.url]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"piyasa-tui: error: {server.url} is not a fleet host: "
                       "drain needs fleet mode ([fleet] enabled = true)")
    finally:
        await server.stop()
    assert await asyncio.to_thread(main, ["drain", "--url", server.url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("piyasa-tui: error: control API at") and "connection refused" in err and "\n" not in err
