"""The command line: help, version, usage errors, init idempotence, check, bad input → exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from piyasa_core.store.db import make_engine, session_factory
from piyasa_core.store.models import Bot, BotChat, Chat, Holding, Stance
from piyasa_tui.cli import main
from tests.conftest import REPO, edit_config

EXE = Path(sys.executable).with_name("piyasa-tui")


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed console script as a user would."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("PIYASA_") and k not in ("DATABASE_URL", "REDIS_URL")}
    full_env.update(env or {})
    return subprocess.run([str(EXE), *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def test_help_and_version(workdir: Path) -> None:
    result = run_cli("--help", cwd=workdir)
    assert result.returncode == 0
    for word in ("init", "check", "--config", "--env-file", "--workers", "--provider", "--data-dir"):
        assert word in result.stdout
    version = run_cli("--version", cwd=workdir)
    assert version.returncode == 0 and version.stdout.startswith("piyasa-tui ")


@pytest.mark.parametrize("args", [["frobnicate"], ["--no-such-flag"], ["init", "--bogus"],
                                  ["--workers", "0", "init"], ["--provider", "gorq", "check"]])
def test_usage_errors_exit_2(workdir: Path, args: list[str]) -> None:
    result = run_cli(*args, cwd=workdir)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "error:" in result.stderr


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return {
                "bots": session.scalar(select(func.count()).select_from(Bot)) or 0,
                "enabled": session.scalar(select(func.count()).select_from(Bot).where(Bot.enabled)) or 0,
                "chats": session.scalar(select(func.count()).select_from(Chat)) or 0,
                "members": session.scalar(select(func.count()).select_from(BotChat)) or 0,
                "stances": session.scalar(select(func.count()).select_from(Stance)) or 0,
                "holdings": session.scalar(select(func.count()).select_from(Holding)) or 0,
            }
    finally:
        engine.dispose()


def test_init_twice_gives_the_same_rows(workdir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["init"]) == 0
    first_out = capsys.readouterr().out
    assert "created" in first_out and "mehmet_trader" in first_out
    first = _counts(db_url)
    assert main(["init"]) == 0
    assert "already in sync" in capsys.readouterr().out
    assert _counts(db_url) == first
    assert first["enabled"] == 4 and first["bots"] == 6 and first["chats"] == 1
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        enabled = session.scalars(select(Bot).where(Bot.enabled).order_by(Bot.id)).all()
        assert sorted(b.id % 4 for b in enabled) == [0, 1, 2, 3]  # one persona per worker
    engine.dispose()


def test_init_applies_config_edits_and_disables_removed_bots(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{workdir / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["init"]) == 0
    edit_config(workdir / "config.toml", 'name = "Ali Hoca"', 'name = "Ali Hoca Bey"')
    edit_config(workdir / "config.toml", 'username = "zeynep_newbie"', 'username = "zeynep_new"')
    assert main(["init"]) == 0
    engine = make_engine(url)
    with session_factory(engine)() as session:
        bots = {b.username: b for b in session.scalars(select(Bot))}
        assert bots["ali_ekonomist"].name == "Ali Hoca Bey"
        assert bots["zeynep_newbie"].enabled is False and bots["zeynep_new"].enabled is True
    engine.dispose()


def test_console_script_init_on_the_embedded_default(workdir: Path) -> None:
    result = run_cli("init", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "data" / "piyasa.db").exists()
    check = run_cli("check", cwd=workdir)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "schema 0001" in check.stdout or "(current)" in check.stdout
    assert "not configured" in check.stdout


def test_bad_config_exits_2_with_one_line_and_writes_nothing(workdir: Path) -> None:
    edit_config(workdir / "config.toml", "workers = 4", "workers = 0")
    result = run_cli("init", cwd=workdir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.toml:13: [supervisor] workers = 0" in lines[0]
    assert not (workdir / "data").exists()


def test_unreachable_database_names_host_hides_password(workdir: Path) -> None:
    env = {"DATABASE_URL": "postgresql://piyasa:topsecretpw@127.0.0.1:1/piyasa"}
    for command, code in (("init", 2), ("check", 1)):  # check: a failed check is 1, as --help says
        result = run_cli(command, cwd=workdir, env=env)
        assert result.returncode == code, result.stderr
        output = result.stdout + result.stderr
        assert "127.0.0.1:1" in output and "topsecretpw" not in output
        assert not (workdir / "data").exists()


def test_check_reaches_the_real_redis(workdir: Path, redis_url: str) -> None:
    result = run_cli("check", cwd=workdir, env={"REDIS_URL": redis_url})
    assert "Redis " in result.stdout and "redis (L2 cache)" in result.stdout
    bad = run_cli("check", cwd=workdir, env={"REDIS_URL": "redis://:pw-hidden-1@127.0.0.1:1/0"})
    assert bad.returncode == 1 and "pw-hidden-1" not in bad.stdout + bad.stderr


def test_flags_override_config(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--workers", "2", "--data-dir", str(workdir / "elsewhere"), "init"]) == 0
    assert "2 workers" in capsys.readouterr().out
    assert (workdir / "elsewhere" / "piyasa.db").exists()
    assert main(["init", "--config", str(REPO / "config.toml"), "--workers", "3"]) == 0
    assert "3 workers" in capsys.readouterr().out
