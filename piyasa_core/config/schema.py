"""Typed configuration sections (pydantic models); one class per `config.toml` section."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from piyasa_core.engine.clock import check_start

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a number or a text such as ``"10m"``, ``"90s"``, ``"1h30m"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10m, 90s or a number of seconds")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        match = _DURATION.match(text)
        if match and any(match.groups()):
            hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
            return hours * 3600 + minutes * 60 + seconds
    raise ValueError("expected a duration such as 10m, 90s or a number of seconds")


Duration = Annotated[float, BeforeValidator(parse_duration)]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _check_windows(windows: list[str]) -> list[str]:
    for window in windows:
        if not _CLOCK.match(window):
            raise ValueError(f"{window!r} is not a window like '09:00-12:00'")
    return windows


class Section(BaseModel):
    """Base for every section: unknown keys are errors, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SupervisorConfig(Section):
    workers: int = Field(4, ge=1, le=64)
    backoff_initial: Duration = Field(0.25, gt=0)
    backoff_max: Duration = Field(30.0, gt=0)
    backoff_reset_after: Duration = Field(60.0, gt=0)
    heartbeat_interval: Duration = Field(1.0, gt=0)
    heartbeat_timeout: Duration = Field(5.0, gt=0)
    stop_timeout: Duration = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> SupervisorConfig:
        if self.backoff_initial > self.backoff_max:
            raise ValueError("backoff_initial must not exceed backoff_max")
        return self


class ControlConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    token_env: str = "PIYASA_CONTROL_TOKEN"


class PathsConfig(Section):
    data_dir: str = "./data"


class DatabaseConfig(Section):
    url: str = ""
    busy_timeout_ms: int = Field(5000, ge=0)
    connect_timeout: Duration = Field(5.0, gt=0)
    echo: bool = False


class FleetConfig(Section):
    """Several supervisors on one PostgreSQL database (docs/fleet.md); off by default."""

    enabled: bool = False
    host_id: str = Field("", pattern=r"^[A-Za-z0-9_.-]{0,64}$")  # "" → the machine's name and the control port
    shards: int = Field(12, ge=1, le=4096)
    lease_ttl: Duration = Field(10.0, ge=1.0, le=300.0)
    renew_every: Duration = Field(0.0, ge=0.0)  # 0 → a third of lease_ttl

    @model_validator(mode="after")
    def _renew_within_ttl(self) -> FleetConfig:
        if self.renew_every and self.renew_every >= self.lease_ttl / 2:
            raise ValueError("renew_every must be under half of lease_ttl (a lease must be renewed twice before it expires)")
        return self

    @property
    def renew_interval(self) -> float:
        return float(self.renew_every or self.lease_ttl / 3)


class CacheConfig(Section):
    redis_url: str = ""
    key_prefix: str = "piyasa"
    l1_max_items: int = Field(4096, ge=1)
    l1_ttl: Duration = Field(30.0, gt=0)
    l2_ttl: Duration = Field(600.0, gt=0)


ProviderName = Literal["groq", "openai", "gemini", "offline"]
PROVIDER_NAMES: tuple[str, ...] = ("groq", "openai", "gemini", "offline")


class ProviderConfig(Section):
    model: str = ""
    base_url: str = ""
    api_key_env: str = ""
    api_version: str = ""
    timeout: Duration = Field(20.0, gt=0)
    rpm: int = Field(0, ge=0)
    tpm: int = Field(0, ge=0)
    rpd: int = Field(0, ge=0)
    tpd: int = Field(0, ge=0)
    max_output_tokens: int = Field(220, ge=1)
    temperature: float = Field(0.9, ge=0, le=2)
    latency_ms: float = Field(0.0, ge=0)
    latency_jitter_ms: float = Field(0.0, ge=0)
    seed: int = 0


def _default_providers() -> dict[str, ProviderConfig]:
    return {
        "groq": ProviderConfig(model="llama-3.3-70b-versatile", api_key_env="GROQ_API_KEY",
                               rpm=30, tpm=12000, rpd=1000, tpd=100000),
        "openai": ProviderConfig(model="gpt-4o-mini", api_key_env="OPENAI_API_KEY",
                                 rpm=500, tpm=200000),
        "gemini": ProviderConfig(model="gemini-2.5-flash", api_key_env="GEMINI_API_KEY",
                                 api_version="v1beta", rpm=10, tpm=250000, rpd=250),
        "offline": ProviderConfig(model="templates-v1", latency_ms=400, latency_jitter_ms=200),
    }


class LLMConfig(Section):
    active: ProviderName = "offline"
    fallback: list[ProviderName] = Field(default_factory=list)
    breaker_threshold: int = Field(3, ge=1)
    breaker_cooldown: Duration = Field(10.0, gt=0)
    breaker_cooldown_max: Duration = Field(60.0, gt=0)
    default_retry_after: Duration = Field(10.0, gt=0)
    max_budget_wait: Duration = Field(30.0, ge=0)
    budget_margin: Duration = Field(0.5, ge=0)
    people_reserve: float = Field(0.1, ge=0, lt=1)  # share of the day's affordable messages kept for people
    providers: dict[ProviderName, ProviderConfig] = Field(default_factory=_default_providers)

    @model_validator(mode="after")
    def _fill_providers(self) -> LLMConfig:
        defaults = _default_providers()
        merged = dict(defaults)
        for name, given in self.providers.items():
            base = defaults[name].model_dump()
            base.update(given.model_dump(exclude_unset=True))
            merged[name] = ProviderConfig(**base)
        object.__setattr__(self, "providers", merged)
        if len(set(self.fallback)) != len(self.fallback):
            raise ValueError("fallback lists a provider twice")
        return self


class TelegramConfig(Section):
    transport: Literal["console", "telegram"] = "console"
    mode: Literal["polling", "webhook"] = "polling"
    api_base_url: str = ""
    poll_timeout: Duration = Field(25.0, gt=0)
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    group_messages_per_minute: int = Field(20, ge=1)
    messages_per_second: int = Field(30, ge=1)


class EngineConfig(Section):
    timezone: str = "Europe/Istanbul"
    hourly_min: int = Field(10, ge=0)
    hourly_max: int = Field(20, ge=1)
    time_scale: float = Field(1.0, gt=0)
    start_at: str = ""  # where the simulated clock starts: "" now, "HH:MM" today, or an ISO date and time
    reply_probability: float = Field(0.65, ge=0, le=1)
    mention_probability: float = Field(0.35, ge=0, le=1)
    reaction_probability: float = Field(0.06, ge=0, le=1)
    human_reply_probability: float = Field(1.0, ge=0, le=1)
    delay_jitter: float = Field(0.25, ge=0, lt=1)
    history_lines: int = Field(12, ge=1, le=200)
    max_message_chars: int = Field(400, ge=20)
    prompt_token_budget: int = Field(400, ge=100)
    seed: int = 0
    market_seed: int = 0
    rss_feeds: list[str] = Field(default_factory=list)
    rss_refresh: Duration = Field(600.0, gt=0)
    rhythm: bool = True  # busier at the BIST open/close and after data releases, quiet at night and weekends
    data_releases: list[str] = Field(default_factory=list)  # "YYYY-MM-DDTHH:MM" beyond the monthly TÜFE

    @field_validator("data_releases")
    @classmethod
    def _releases(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                datetime.fromisoformat(item.strip())
            except ValueError:
                raise ValueError(f"{item!r} is not a date and time like 2026-12-11T14:00") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown timezone (use an IANA name such as Europe/Istanbul)") from None
        return value

    @field_validator("start_at")
    @classmethod
    def _start(cls, value: str) -> str:
        return check_start(value)

    @model_validator(mode="after")
    def _hourly_order(self) -> EngineConfig:
        if self.hourly_min > self.hourly_max:
            raise ValueError(f"hourly_min ({self.hourly_min}) is greater than hourly_max ({self.hourly_max})")
        return self


class BenchProfile(Section):
    """The settings a benchmark run puts the bots on, and the throughput it is judged against."""

    description: str = ""
    hourly_min: int | None = Field(None, ge=0)  # None: [engine] hourly_min
    hourly_max: int | None = Field(None, ge=1)  # None: [engine] hourly_max
    rhythm: bool | None = None  # None: [engine] rhythm
    min_throughput_per_min: float | None = Field(None, ge=0)  # None: no throughput criterion
    target_throughput_per_min: float | None = Field(None, ge=0)
    human_every: Duration | None = Field(None, gt=0)  # a person's question this often (simulated); None: none


def _default_profiles() -> dict[str, BenchProfile]:
    return {
        "seed": BenchProfile(description="the older system's 10-minute test (SESSION_7_RESUME.md): 50–100 "
                                         "messages per bot per hour, at least 4.0 and a target of 6.0 msg/min, at a "
                                         "steady pace (no daily rhythm: a fixed msg/min threshold would "
                                         "then depend on the hour and the day the test is run)",
                             hourly_min=50, hourly_max=100, min_throughput_per_min=4.0,
                             target_throughput_per_min=6.0, rhythm=False),
        "everyday": BenchProfile(description="the community's own pace ([engine] hourly_min / hourly_max); "
                                             "judged by pace, lateness and the rest, with no throughput threshold"),
        "humans": BenchProfile(description="the community's own pace with a person asking the group a question "
                                           "every 5 simulated minutes (some by name or @username); judged also on "
                                           "how they are answered", human_every=300.0),
    }


class BenchmarkConfig(Section):
    profile: str = "seed"
    duration: Duration = Field(600.0, gt=0)
    time_scale: float = Field(1.0, gt=0)
    sample_every: Duration = Field(10.0, gt=0)
    start_at: str = "10:00"  # "HH:MM" (today), an ISO date and time, or "" (now)
    warmup: Duration = Field(60.0, ge=0)
    workers_required: int = Field(4, ge=1)
    max_pace_deviation: float = Field(0.15, ge=0)
    max_lateness_p95: Duration = Field(30.0, gt=0)
    max_duplicates: int = Field(0, ge=0)
    min_l2_hit_rate: float = Field(0.20, ge=0, le=1)
    max_bots_per_human_question: int = Field(2, ge=1)  # answers to a person's question within 10 minutes
    out_dir: str = ""
    profiles: dict[str, BenchProfile] = Field(default_factory=_default_profiles)

    @field_validator("start_at")
    @classmethod
    def _start(cls, value: str) -> str:
        return check_start(value)

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, value: dict[str, BenchProfile]) -> dict[str, BenchProfile]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_-]{0,31}$", name):
                raise ValueError(f"profile name {name!r}: use lower-case letters, digits, - and _")
        return value

    @model_validator(mode="after")
    def _fill_profiles(self) -> BenchmarkConfig:
        merged = _default_profiles()
        for name, given in self.profiles.items():
            base = merged[name].model_dump() if name in merged else {}
            base.update(given.model_dump(exclude_unset=True))
            merged[name] = BenchProfile(**base)
        object.__setattr__(self, "profiles", merged)
        if self.profile not in merged:
            raise ValueError(f"profile {self.profile!r} is not defined; known: {', '.join(merged)}")
        for name, prof in merged.items():
            if prof.hourly_min is not None and prof.hourly_max is not None and prof.hourly_min > prof.hourly_max:
                raise ValueError(f"profiles.{name}: hourly_min ({prof.hourly_min}) is greater than "
                                 f"hourly_max ({prof.hourly_max})")
        return self


class Emotion(Section):
    tone: str = "neutral"
    energy: float = Field(0.5, ge=0, le=1)
    optimism: float = Field(0.5, ge=0, le=1)
    humor: float = Field(0.2, ge=0, le=1)


class StanceConfig(Section):
    topic: str
    view: str
    confidence: float = Field(ge=0, le=1)


class HoldingConfig(Section):
    symbol: str
    avg_price: float = Field(ge=0)
    size: float = Field(ge=0)
    note: str = ""


class BotConfig(Section):
    name: str = Field(min_length=1)
    username: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{2,31}$")
    persona: str = Field(min_length=1)
    enabled: bool = True
    token_env: str = ""
    bio: str = ""
    risk: str = ""
    horizon: str = ""
    speed: Literal["fastest", "fast", "medium", "slow", "slowest"] = "medium"
    emotion: Emotion = Field(default_factory=Emotion)
    watchlist: list[str] = Field(default_factory=list)
    active_hours: list[str] = Field(default_factory=list)
    prime_hours: list[str] = Field(default_factory=list)
    signature_phrases: list[str] = Field(default_factory=list)
    emoji: list[str] = Field(default_factory=list)
    chats: list[str] | None = None
    stances: list[StanceConfig] = Field(default_factory=list)
    holdings: list[HoldingConfig] = Field(default_factory=list)
    memories: list[str] = Field(default_factory=list)  # what the bot remembers from the start (seeded by init)

    @field_validator("memories")
    @classmethod
    def _memories(cls, value: list[str]) -> list[str]:
        for i, text in enumerate(value):
            if not text.strip() or len(text) > 200:
                raise ValueError(f"item {i} has {len(text.strip())} characters; each memory needs 1–200")
        return [" ".join(text.split()) for text in value]

    @field_validator("active_hours", "prime_hours")
    @classmethod
    def _hour_windows(cls, value: list[str]) -> list[str]:
        return _check_windows(value)


class ChatConfig(Section):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    title: str = Field(min_length=1)
    transport: Literal["console", "telegram"] | None = None
    telegram_chat_id: int | None = None
    topics: list[str] = Field(default_factory=list)
    enabled: bool = True


class Settings(Section):
    """The whole validated configuration (everything but secrets)."""

    supervisor: SupervisorConfig = Field(default_factory=SupervisorConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    fleet: FleetConfig = Field(default_factory=FleetConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    benchmark: BenchmarkConfig = Field(default_factory=BenchmarkConfig)
    bots: list[BotConfig] = Field(default_factory=list)
    chats: list[ChatConfig] = Field(default_factory=list)

    def chat_transport(self, chat: ChatConfig) -> str:
        """The transport a chat uses: its own, else the `[telegram] transport` default."""
        return chat.transport or self.telegram.transport

    def bot_chats(self, bot: BotConfig) -> list[ChatConfig]:
        """The chats a bot is a member of (all chats when the bot lists none)."""
        if bot.chats is None:
            return list(self.chats)
        wanted = set(bot.chats)
        return [c for c in self.chats if c.key in wanted]
