"""Layer the sources (flag > environment > `.env` > `config.toml` > default) and validate."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from piyasa_core.config.schema import Settings
from piyasa_core.config.sources import (
    Origin,
    Path_,
    coerce_env_value,
    env_path_for,
    get_path,
    key_label,
    nearest,
    read_dotenv,
    read_toml,
    set_path,
    toml_lines,
)
from piyasa_core.errors import ConfigError
from piyasa_core.secrets import MaskedEnv, Secret, is_secret_name, mask_url, mask_value

DEFAULT_CONFIG = Path("config.toml")
DEFAULT_ENV_FILE = Path(".env")
_URL_KEYS = {("database", "url"), ("cache", "redis_url")}


@dataclass(frozen=True)
class Change:
    """One key whose value differs between two loads; values are already masked."""

    key: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.key}: {self.old} → {self.new}"


@dataclass(frozen=True)
class Config:
    """A validated configuration plus the environment snapshot it was read with."""

    settings: Settings
    config_path: Path
    env_path: Path | None
    environ: MaskedEnv
    dotenv_keys: frozenset[str]
    overrides: Mapping[Path_, Any] = field(default_factory=dict)
    origins: Mapping[Path_, Origin] = field(default_factory=dict, repr=False)

    def secret(self, name: str) -> Secret | None:
        """The secret held by environment variable ``name`` (from the environment or `.env`)."""
        value = self.environ.get(name)
        return Secret(value) if value else None

    @property
    def data_dir(self) -> Path:
        """The data directory (relative paths are taken from the working directory)."""
        return Path(self.settings.paths.data_dir).expanduser().resolve()

    @property
    def database_url(self) -> str:
        """The database URL: `[database] url` / DATABASE_URL, else SQLite in the data dir."""
        url = self.settings.database.url.strip()
        if not url:
            return f"sqlite:///{self.data_dir / 'piyasa.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    def origin(self, path: Path_) -> Origin:
        """Where the value at ``path`` came from."""
        return self.origins.get(path, Origin("default"))

    def reload(self) -> tuple[Config, list[Change]]:
        """Re-read `config.toml`, `.env` and the environment; return the new config and the diff.

        Raises :class:`ConfigError` (and leaves this config untouched) when the new one is invalid.
        """
        fresh = load_config(self.config_path, self.env_path, overrides=self.overrides,
                            env_path_explicit=self.env_path is not None)
        return fresh, diff_configs(self, fresh)

    def __repr__(self) -> str:
        return f"Config(config_path={str(self.config_path)!r}, env_path={str(self.env_path)!r}, {self.environ!r})"


def load_config(
    config_path: Path | str | None = None,
    env_path: Path | str | None = None,
    *,
    overrides: Mapping[Path_, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_path_explicit: bool | None = None,
) -> Config:
    """Load and validate configuration; any problem raises a one-line :class:`ConfigError`."""
    cfg_path = Path(config_path) if config_path else DEFAULT_CONFIG
    explicit_env = env_path is not None if env_path_explicit is None else env_path_explicit
    env_file = Path(env_path) if env_path else DEFAULT_ENV_FILE
    process_env = dict(os.environ if environ is None else environ)

    tree, text = read_toml(cfg_path)
    origins: dict[Path_, Origin] = {}
    lines = toml_lines(text)
    _record_toml_origins(tree, (), cfg_path, lines, origins)
    _check_unknown_keys(tree, Settings, (), cfg_path, lines)

    dotenv: dict[str, str] = {}
    dotenv_lines: dict[str, int] = {}
    used_env_file: Path | None = None
    if explicit_env or env_file.exists():
        dotenv, dotenv_lines = read_dotenv(env_file)
        used_env_file = env_file
    merged_env = {**dotenv, **process_env}

    defaults = Settings()
    for name, value in dotenv.items():
        if name not in process_env:
            _apply_env(tree, origins, defaults, name, value,
                       Origin("dotenv", str(env_file), dotenv_lines.get(name), name))
    for name, value in process_env.items():
        _apply_env(tree, origins, defaults, name, value, Origin("env", name=name))
    for path, value in (overrides or {}).items():
        set_path(tree, path, value)
        origins[path] = Origin("cli", name="--" + str(path[-1]).replace("_", "-"))

    try:
        settings = Settings.model_validate(tree)
    except ValidationError as exc:
        raise _validation_error(exc, tree, origins, cfg_path) from None

    config = Config(settings, cfg_path, used_env_file, MaskedEnv(merged_env),
                    frozenset(dotenv), dict(overrides or {}), origins)
    _cross_check(config)
    return config


def _apply_env(tree: dict[str, Any], origins: dict[Path_, Origin], defaults: Settings,
               name: str, value: str, origin: Origin) -> None:
    path = env_path_for(name)
    if path is None:
        return
    default = get_path(defaults.model_dump(), path)
    if default is None and not _path_exists(path):
        where = f"{origin.where()} " if origin.kind == "dotenv" else "environment "
        section_names = list(Settings.model_fields)
        guess = nearest(str(path[0]), section_names) if path[0] not in section_names else ""
        raise ConfigError(f"{where}{name}: names no config key ({key_label(path)}){guess}")
    set_path(tree, path, coerce_env_value(value, default))
    origins[path] = origin


def _path_exists(path: Path_) -> bool:
    model: Any = Settings
    for part in path:
        if isinstance(model, type) and issubclass(model, BaseModel):
            if part not in model.model_fields:
                return False
            model = model.model_fields[part].annotation
        else:
            return True  # inside a dict/list field: accepted, pydantic checks the rest
    return True


def _record_toml_origins(node: Any, path: Path_, file: Path, lines: dict[Path_, int],
                         origins: dict[Path_, Origin]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _record_toml_origins(value, (*path, key), file, lines, origins)
    elif isinstance(node, list) and node and all(isinstance(i, dict) for i in node):
        for index, value in enumerate(node):
            _record_toml_origins(value, (*path, index), file, lines, origins)
    if path:
        origins[path] = Origin("toml", str(file), _line_for(path, lines))


def _line_for(path: Path_, lines: dict[Path_, int]) -> int | None:
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _check_unknown_keys(node: Any, model: type[BaseModel], path: Path_, file: Path,
                        lines: dict[Path_, int]) -> None:
    """Reject unknown sections and keys, suggesting the nearest valid name."""
    if not isinstance(node, dict):
        return
    fields = model.model_fields
    for key, value in node.items():
        here = (*path, key)
        if key not in fields:
            line = _line_for(here, lines)
            kind = "section" if not path else "key"
            label = f"[{key}]" if not path else key_label(here)
            raise ConfigError(f"{file}{':' + str(line) if line else ''}: unknown {kind} {label}"
                              f"{nearest(key, list(fields))}")
        _descend(value, fields[key].annotation, here, file, lines)


def _descend(value: Any, annotation: Any, path: Path_, file: Path, lines: dict[Path_, int]) -> None:
    from typing import get_args, get_origin

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _check_unknown_keys(value, annotation, path, file, lines)
        return
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is list and args and isinstance(value, list):
        for index, item in enumerate(value):
            _descend(item, args[0], (*path, index), file, lines)
    elif origin is dict and len(args) == 2 and isinstance(value, dict):
        for key, item in value.items():
            _descend(item, args[1], (*path, key), file, lines)
    elif args and origin is not None and origin is not list and origin is not dict:
        for arg in args:  # Optional[...] / unions
            _descend(value, arg, path, file, lines)


def _validation_error(exc: ValidationError, tree: dict[str, Any], origins: Mapping[Path_, Origin],
                      cfg_path: Path) -> ConfigError:
    first = exc.errors()[0]
    loc: Path_ = tuple(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    loc = _narrow_to_named_key(loc, message)
    origin = _origin_for(loc, origins, cfg_path)
    value = get_path(tree, loc)
    label = origin.name if origin.kind in ("env", "dotenv", "cli") else key_label(loc)
    if first["type"] == "literal_error" and "expected" in first.get("ctx", {}):
        message = f"must be one of {first['ctx']['expected']}"
    if isinstance(value, (dict, list)) or value is None:
        return ConfigError(f"{origin.where()}: {label}: {message}")
    return ConfigError(f"{origin.where()}: {label} = {_shown(loc, value, origin)}: {message}")


def _narrow_to_named_key(loc: Path_, message: str) -> Path_:
    """Point a section-level rule ("hourly_min (60) is greater …") at the key it names first."""
    section: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(section, "model_fields", {}).get(part)
        section = field.annotation if field else None
        if section is None:
            return loc
    first_word = message.split(" ", 1)[0]
    if isinstance(section, type) and issubclass(section, BaseModel) and first_word in section.model_fields:
        return (*loc, first_word)
    return loc


def _origin_for(loc: Path_, origins: Mapping[Path_, Origin], cfg_path: Path) -> Origin:
    for end in range(len(loc), 0, -1):
        if loc[:end] in origins:
            return origins[loc[:end]]
    return Origin("toml", str(cfg_path))


def _shown(path: Path_, value: Any, origin: Origin) -> str:
    if path in _URL_KEYS and isinstance(value, str):
        return repr(mask_url(value))
    if origin.name and is_secret_name(origin.name):
        return mask_value(origin.name, str(value))
    return repr(value)


def _cross_check(config: Config) -> None:
    """Rules that span keys: unique names, known chat keys, tokens for telegram chats."""
    settings = config.settings

    def fail(path: Path_, value: Any, problem: str) -> None:
        origin = config.origin(path)
        raise ConfigError(f"{origin.where()}: {key_label(path)} = {value!r}: {problem}")

    if settings.fleet.enabled:
        if not config.database_url.startswith("postgresql"):
            fail(("fleet", "enabled"), True, "a fleet needs PostgreSQL: set [database] url (or DATABASE_URL) "
                 "to a postgresql:// URL; SQLite cannot be shared by hosts")
        if not settings.cache.redis_url:
            fail(("fleet", "enabled"), True, "a fleet needs Redis for its shared budgets and cache: set [cache] "
                 "redis_url (or REDIS_URL)")
        if settings.telegram.mode == "webhook":
            fail(("telegram", "mode"), "webhook", "a fleet receives Telegram updates by polling (each token by "
                 "the host holding its bot's shard); a webhook URL points at one host")
    seen_users: dict[str, int] = {}
    for index, bot in enumerate(settings.bots):
        lowered = bot.username.lower()
        if lowered in seen_users:
            fail(("bots", index, "username"), bot.username,
                 f"already used by [[bots]] #{seen_users[lowered] + 1}")
        seen_users[lowered] = index
    seen_chats: dict[str, int] = {}
    seen_ids: dict[int, int] = {}
    for index, chat in enumerate(settings.chats):
        if chat.key in seen_chats:
            fail(("chats", index, "key"), chat.key, f"already used by [[chats]] #{seen_chats[chat.key] + 1}")
        seen_chats[chat.key] = index
        if chat.telegram_chat_id is not None:
            if chat.telegram_chat_id in seen_ids:
                fail(("chats", index, "telegram_chat_id"), chat.telegram_chat_id,
                     f"already used by [[chats]] #{seen_ids[chat.telegram_chat_id] + 1}")
            seen_ids[chat.telegram_chat_id] = index
        if settings.chat_transport(chat) == "telegram" and chat.telegram_chat_id is None and chat.enabled:
            fail(("chats", index, "transport"), "telegram", "a telegram chat needs telegram_chat_id")
    for index, bot in enumerate(settings.bots):
        for chat_key in bot.chats or []:
            if chat_key not in seen_chats:
                fail(("bots", index, "chats"), chat_key, f"no such chat{nearest(chat_key, list(seen_chats))}")
        if not bot.enabled:
            continue
        telegram_chats = [c.key for c in settings.bot_chats(bot)
                          if c.enabled and settings.chat_transport(c) == "telegram"]
        if telegram_chats and not bot.token_env:
            fail(("bots", index, "token_env"), "", f"bot {bot.username} posts to telegram chat "
                 f"{telegram_chats[0]!r} but has no token_env")
        if telegram_chats and not config.environ.get(bot.token_env):
            fail(("bots", index, "token_env"), bot.token_env,
                 f"variable is not set in the environment or .env, but chat {telegram_chats[0]!r} "
                 "uses the telegram transport")


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        for index, item in enumerate(node):  # [[bots]] / [[chats]]: one entry per element
            flat.update(_flatten(item, f"{prefix}[{index}]"))
    else:
        flat[prefix] = node
    return flat


def diff_configs(old: Config, new: Config) -> list[Change]:
    """Changed settings and environment keys, values masked."""
    changes: list[Change] = []
    old_flat = _flatten(old.settings.model_dump(mode="json"))
    new_flat = _flatten(new.settings.model_dump(mode="json"))
    for key in sorted(old_flat.keys() | new_flat.keys()):
        before, after = old_flat.get(key), new_flat.get(key)
        if before != after:
            show = mask_url if key in ("database.url", "cache.redis_url") else repr
            changes.append(Change(key, show(before) if before is not None else "(unset)",
                                  show(after) if after is not None else "(unset)"))
    watched = old.dotenv_keys | new.dotenv_keys | _referenced_env_names(new) | _referenced_env_names(old)
    for name in sorted(watched):
        before, after = old.environ.get(name), new.environ.get(name)
        if before != after:
            changes.append(Change(name, mask_value(name, before), mask_value(name, after)))
    return changes


def _referenced_env_names(config: Config) -> set[str]:
    settings = config.settings
    names = {bot.token_env for bot in settings.bots if bot.token_env}
    names |= {p.api_key_env for p in settings.llm.providers.values() if p.api_key_env}
    names |= {settings.control.token_env, settings.telegram.webhook_secret_env}
    names |= {n for n in config.environ if env_path_for(n) is not None}
    return names
