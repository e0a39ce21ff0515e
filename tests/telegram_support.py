"""Fixtures for Telegram tests: the fake Bot API, tokens in the environment, a telegram chat."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import edit_config
from tests.fakes.telegram_server import FakeTelegramServer

CHAT = -1001234567890
BOTS = {  # username → (token env, token)
    "mehmet_trader": ("BOT_MEHMET_TOKEN", "700000001:" + "A" * 35),
    "ayse_scalp": ("BOT_AYSE_TOKEN", "700000002:" + "B" * 35),
    "ali_ekonomist": ("BOT_ALI_TOKEN", "700000003:" + "C" * 35),
    "zeynep_newbie": ("BOT_ZEYNEP_TOKEN", "700000004:" + "D" * 35),
}


@dataclass
class TelegramEnv:
    fake: FakeTelegramServer
    workdir: Path

    def token(self, username: str) -> str:
        return BOTS[username][1]


@pytest.fixture
def tg(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TelegramEnv]:
    """piyasa-local on the telegram transport, four bots with tokens, the fake Bot API running."""
    edit_config(workdir / "config.toml", 'transport = "console"\ntopics',
                f'transport = "telegram"\ntelegram_chat_id = {CHAT}\ntopics')
    with FakeTelegramServer() as fake:
        for username, (env, token) in BOTS.items():
            monkeypatch.setenv(env, token)
            fake.add_bot(token, username=username)
        fake.add_chat(CHAT, "Piyasa Sohbet", members=[token for _, token in BOTS.values()])
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.url)
        yield TelegramEnv(fake, workdir)
