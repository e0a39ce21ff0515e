"""Configuration: precedence, every bad input of issue 2, reload diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from piyasa_core.config import load_config
from piyasa_core.errors import ConfigError
from tests.conftest import edit_config


def test_repository_config_loads_with_four_enabled_personas(workdir: Path) -> None:
    config = load_config()
    enabled = [b.username for b in config.settings.bots if b.enabled]
    assert enabled == ["mehmet_trader", "ayse_scalp", "ali_ekonomist", "zeynep_newbie"]
    assert [b.username for b in config.settings.bots if not b.enabled] == ["can_chartist", "fatma_temettu"]
    assert [c.key for c in config.settings.chats] == ["piyasa-local"]
    assert config.settings.supervisor.workers == 4
    assert config.settings.engine.timezone == "Europe/Istanbul"
    assert (config.settings.engine.hourly_min, config.settings.engine.hourly_max) == (10, 20)  # the everyday pace
    seed = config.settings.benchmark.profiles["seed"]  # the benchmark's default: the older system's test
    assert config.settings.benchmark.profile == "seed" and (seed.hourly_min, seed.hourly_max) == (50, 100)
    assert config.settings.benchmark.duration == 600.0
    assert config.settings.llm.active == "offline"
    assert config.database_url.endswith("/data/piyasa.db")


def test_every_stance_confidence_is_a_number(workdir: Path) -> None:
    for bot in load_config().settings.bots:
        assert bot.stances, bot.username
        for stance in bot.stances:
            assert isinstance(stance.confidence, float) and 0 <= stance.confidence <= 1


def test_precedence_flag_over_env_over_dotenv_over_toml_over_default(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = workdir / "config.toml"
    # default (key absent from the file)
    edit_config(cfg, "time_scale = 1.0            # compresses every wait", "# removed:")
    assert load_config().settings.engine.time_scale == 1.0
    # config.toml
    edit_config(cfg, "[engine]\n", "[engine]\ntime_scale = 2.0\n")
    assert load_config().settings.engine.time_scale == 2.0
    # .env beats config.toml
    (workdir / ".env").write_text("PIYASA_ENGINE__TIME_SCALE=3\n")
    config = load_config()
    assert config.settings.engine.time_scale == 3.0
    assert config.origin(("engine", "time_scale")).kind == "dotenv"
    # environment beats .env
    monkeypatch.setenv("PIYASA_ENGINE__TIME_SCALE", "4")
    assert load_config().settings.engine.time_scale == 4.0
    # command-line flag beats everything
    config = load_config(overrides={("engine", "time_scale"): 5.0})
    assert config.settings.engine.time_scale == 5.0
    assert config.origin(("engine", "time_scale")).kind == "cli"


def test_well_known_variables_and_list_values(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "groq")
    monkeypatch.setenv("PIYASA_LLM__FALLBACK", "openai, offline")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:5432/app")
    settings = (config := load_config()).settings
    assert settings.llm.active == "groq"
    assert settings.llm.fallback == ["openai", "offline"]
    assert settings.llm.providers["openai"].base_url == "http://127.0.0.1:11434/v1"
    assert settings.llm.providers["openai"].model == "gpt-4o-mini"
    assert config.database_url == "postgresql+psycopg://app@127.0.0.1:5432/app"


def _error(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    return message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("workers = 4", "workers = = 4", ["config.toml", "TOML syntax error", "line 13"]),
        ("[cache]", "[cahce]", ["config.toml:{line}", "unknown section [cahce]", "did you mean 'cache'"]),
        ("time_scale = 1.0            # compresses", "timescale = 1.0 #",
         ["unknown key [engine] timescale", "did you mean 'time_scale'"]),
        ("energy = 0.9", "enrgy = 0.9", ["[[bots]] #2 emotion.enrgy", "did you mean 'energy'"]),
        ("workers = 4", 'workers = "four"', ["config.toml:13", "[supervisor] workers = 'four'", "integer"]),
        ("workers = 4", "workers = 0", ["config.toml:{line}", "[supervisor] workers = 0", "greater than or equal to 1"]),
        ("hourly_min = 10 ", "hourly_min = 120 ", ["[engine] hourly_min = 120", "greater than hourly_max (20)"]),
        ("hourly_min = 50", "hourly_min = 120", ["[benchmark]: profiles.seed: hourly_min (120) is greater than "
                                                 "hourly_max (100)"]),
        ('profile = "seed"', 'profile = "sead"', ["[benchmark]", "profile 'sead' is not defined; known: seed, everyday"]),
        ('start_at = ""', 'start_at = "25:00"', ["[engine] start_at = '25:00'", "is not a start time"]),
        ('timezone = "Europe/Istanbul"', 'timezone = "Europe/Istanbull"',
         ["config.toml:{line}", "[engine] timezone = 'Europe/Istanbull'", "unknown timezone"]),
        ('username = "ayse_scalp"', 'username = "mehmet_trader"',
         ["[[bots]] #2 username = 'mehmet_trader'", "already used by [[bots]] #1"]),
        ('active = "offline"', 'active = "gorq"', ["[llm] active = 'gorq'", "must be one of"]),
        ('active_hours = ["09:00-18:00"]', 'active_hours = ["9-18"]', ["[[bots]] #2 active_hours", "'9-18'"]),
        ('confidence = 0.8 },\n  { topic = "Bitcoin"', 'confidence = 1.8 },\n  { topic = "Bitcoin"',
         ["[[bots]] #1 stances.0.confidence = 1.8", "less than or equal to 1"]),
    ],
)
def test_bad_config_values_are_one_clear_line(workdir: Path, old: str, new: str, expected: list[str]) -> None:
    edit_config(workdir / "config.toml", old, new)
    lines = (workdir / "config.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if new.splitlines()[0] in text)
    message = _error()
    for part in expected:
        part = part.replace("{line}", str(line))
        assert part in message, (part, message)


def test_unset_token_env_for_a_telegram_chat_is_rejected(workdir: Path) -> None:
    edit_config(workdir / "config.toml", 'transport = "console"\ntopics',
                'transport = "telegram"\ntelegram_chat_id = -1001234567890\ntopics')
    message = _error()
    assert "[[bots]] #1 token_env = 'BOT_MEHMET_TOKEN'" in message
    assert "not set" in message and "piyasa-local" in message
    # with every enabled bot's token present the same config is valid
    (workdir / ".env").write_text("".join(f"BOT_{n}_TOKEN=123456:{'x' * 35}\n"
                                          for n in ("MEHMET", "AYSE", "ALI", "ZEYNEP")))
    assert load_config().settings.chats[0].telegram_chat_id == -1001234567890


def test_unparseable_dotenv_line_names_file_and_line_without_echoing(workdir: Path) -> None:
    (workdir / ".env").write_text("GROQ_API_KEY=gsk_fine\n" + "gsk_" + "pastedsecretvalue123\n")
    message = _error()
    assert message.startswith(".env:2: cannot parse .env line")
    assert "pastedsecret" not in message
    (workdir / ".env").write_text('OK=1\nBROKEN="unterminated\n')
    assert ".env:2" in _error()


def test_bad_values_from_environment_name_the_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIYASA_SUPERVISOR__WORKERS", "0")
    assert _error().startswith("environment: PIYASA_SUPERVISOR__WORKERS = '0'")
    monkeypatch.delenv("PIYASA_SUPERVISOR__WORKERS")
    monkeypatch.setenv("PIYASA_ENGNE__TIMEZONE", "UTC")
    assert "did you mean 'engine'" in _error()


def test_missing_config_file(tmp_path: Path) -> None:
    assert "config file not found" in _error(config_path=tmp_path / "nope.toml")


def test_explicit_env_file_must_exist(workdir: Path) -> None:
    assert ".env file not found" in _error(env_path=workdir / "missing.env")


def test_reload_reports_changed_keys_masked(workdir: Path) -> None:
    env = workdir / ".env"
    env.write_text("GROQ_API_KEY=gsk_first_secret_value\nLLM_PROVIDER=offline\n")
    config = load_config()
    env.write_text("GROQ_API_KEY=gsk_second_secret_value\nLLM_PROVIDER=groq\nPIYASA_WORKERS=2\n")
    fresh, changes = config.reload()
    assert fresh.settings.llm.active == "groq" and fresh.settings.supervisor.workers == 2
    shown = {c.key: str(c) for c in changes}
    assert set(shown) >= {"GROQ_API_KEY", "LLM_PROVIDER", "PIYASA_WORKERS", "llm.active", "supervisor.workers"}
    assert "secret_value" not in " ".join(shown.values())
    assert shown["llm.active"] == "llm.active: 'offline' → 'groq'"
    assert shown["GROQ_API_KEY"].startswith("GROQ_API_KEY: *** (sha256 ")
    # unchanged reload reports nothing
    assert fresh.reload()[1] == []


def test_reload_of_an_invalid_env_raises_and_keeps_the_old_config(workdir: Path) -> None:
    env = workdir / ".env"
    env.write_text("PIYASA_WORKERS=3\n")
    config = load_config()
    env.write_text("PIYASA_WORKERS=0\n")
    with pytest.raises(ConfigError, match="PIYASA_WORKERS"):
        config.reload()
    assert config.settings.supervisor.workers == 3


def test_config_toml_documents_every_key(workdir: Path) -> None:
    from pydantic import BaseModel

    from piyasa_core.config.schema import Settings

    text = (workdir / "config.toml").read_text(encoding="utf-8")

    def walk(model: type[BaseModel]) -> list[str]:
        keys = []
        for name, field in model.model_fields.items():
            keys.append(name)
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                keys += walk(annotation)
        return keys

    assert "[benchmark.profiles.seed]" in text and "[benchmark.profiles.everyday]" in text
    from piyasa_core.config.schema import BenchProfile
    assert [k for k in BenchProfile.model_fields if k not in text] == []
    missing = [key for key in walk(Settings) if key not in ("providers", "profiles") and f"{key} =" not in text
               and f"[{key}]" not in text and f"[[{key}]]" not in text and f"{key} = " not in text]
    assert missing == []


def test_reload_diff_names_the_bot_entry_that_changed(workdir: Path) -> None:
    config = load_config()
    edit_config(workdir / "config.toml", 'name = "Ali Hoca"', 'name = "Ali Hoca Bey"')
    _, changes = config.reload()
    assert [str(c) for c in changes] == ["bots[2].name: 'Ali Hoca' → 'Ali Hoca Bey'"]
