"""Secrets never appear in repr, str, exception text or logs."""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path

import pytest

from piyasa_core.config import load_config
from piyasa_core.errors import ConfigError, StoreUnavailable
from piyasa_core.secrets import RedactingFilter, Secret, mask_url, redact
from piyasa_core.store.db import check_reachable, make_engine

GROQ = "gsk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TOKEN = "7012345678:" + "AAH-abcdefghijklmnopqrstuvwxyz0123456"  # split: not a committed-looking token


def test_secret_display_forms_are_masked() -> None:
    secret = Secret(GROQ)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret, repr([secret])):
        assert GROQ not in shown
    assert secret.reveal() == GROQ
    assert pickle.loads(pickle.dumps(secret)).reveal() == GROQ


def test_config_repr_and_secret_lookup_hide_values(workdir: Path) -> None:
    (workdir / ".env").write_text(f"GROQ_API_KEY={GROQ}\nBOT_MEHMET_TOKEN={TOKEN}\n")
    config = load_config()
    assert GROQ not in repr(config) and TOKEN not in repr(config)
    assert GROQ not in repr(config.environ) and GROQ not in str(config.environ)
    key = config.secret("GROQ_API_KEY")
    assert key is not None and key.reveal() == GROQ and GROQ not in repr(key)
    assert config.secret("OPENAI_API_KEY") is None


def test_logs_are_redacted_including_tracebacks(workdir: Path) -> None:
    (workdir / ".env").write_text(f"GROQ_API_KEY={GROQ}\n")
    load_config()  # registers the secrets it reads
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("piyasa.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling groq with %s", GROQ)
        try:
            raise RuntimeError(f"bad request to https://api.telegram.org/bot{TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("telegram failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "calling groq with ***" in output
    assert "telegram failed" in output and "RuntimeError" in output
    assert GROQ not in output and TOKEN not in output


def test_token_shaped_text_is_redacted_even_unregistered() -> None:
    other = "5555555555:" + "BBxyzabcdefghijklmnopqrstuvwxyz012345"
    assert other not in redact(f"token {other} leaked")


def test_database_error_names_host_and_hides_password() -> None:
    engine = make_engine("postgresql+psycopg://app:s3cr3t-pass@127.0.0.1:1/app", connect_timeout=1)
    with pytest.raises(StoreUnavailable) as info:
        check_reachable(engine)
    message = str(info.value)
    assert "127.0.0.1:1" in message and "s3cr3t-pass" not in message and "***" in message


def test_bad_dotenv_value_for_a_url_is_masked(workdir: Path) -> None:
    (workdir / ".env").write_text("DATABASE_URL=postgresql://u:hunter2hunter2@db/x\nPIYASA_WORKERS=0\n")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "hunter2" not in str(info.value)


def test_mask_url() -> None:
    assert mask_url("redis://:pw12345@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert TOKEN not in mask_url(f"https://api.telegram.org/bot{TOKEN}/getMe")


def test_a_sqlite_url_is_shown_as_written() -> None:
    """`sqlite:////tmp/x.db` lost a slash in reports (`sqlite://tmp/…`): a file path holds no secret."""
    from piyasa_core.secrets import mask_url

    assert mask_url("sqlite:////tmp/x/data/piyasa.db") == "sqlite:////tmp/x/data/piyasa.db"
    assert mask_url("postgresql+psycopg://u:pw@db:5432/p") == "postgresql+psycopg://u:***@db:5432/p"
