"""Shared fixtures: real PostgreSQL and Redis (fail under CI=true when missing), temp configs."""

from __future__ import annotations

import getpass
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("PIYASA_TEST_PG", f"postgresql://{getpass.getuser()}@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("PIYASA_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing server fails the run)")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    """The real Redis server's URL (checked with a PING)."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _missing("Redis at 127.0.0.1:6379", exc)
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a copy of the repository's config.toml and no .env."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("PIYASA_") or name in ("DATABASE_URL", "REDIS_URL", "LLM_PROVIDER"):
            monkeypatch.delenv(name, raising=False)
    return tmp_path


def edit_config(path: Path, old: str, new: str) -> None:
    """Replace one exact snippet of a config file (the snippet must exist)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"snippet not in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _create_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"piyasa_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _missing("PostgreSQL at 127.0.0.1:5432", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


from tests.telegram_support import tg  # noqa: E402,F401 - the `tg` fixture, shared by the Telegram tests
