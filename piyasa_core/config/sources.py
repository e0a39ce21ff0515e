"""Raw configuration sources: `config.toml`, `.env`, the environment and command-line flags.

Each source yields ``{path: value}`` pairs plus where each value came from, so a validation
error can name the file, the line, the key and the value.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream

from piyasa_core.errors import ConfigError

Path_ = tuple[str | int, ...]

# Well-known environment variables and the config keys they set (besides PIYASA_SECTION__KEY).
ENV_ALIASES: dict[str, Path_] = {
    "DATABASE_URL": ("database", "url"),
    "REDIS_URL": ("cache", "redis_url"),
    "LLM_PROVIDER": ("llm", "active"),
    "PIYASA_WORKERS": ("supervisor", "workers"),
    "PIYASA_DATA_DIR": ("paths", "data_dir"),
    "PIYASA_TIME_SCALE": ("engine", "time_scale"),
    "TELEGRAM_API_BASE_URL": ("telegram", "api_base_url"),
    "OPENAI_BASE_URL": ("llm", "providers", "openai", "base_url"),
    "GROQ_BASE_URL": ("llm", "providers", "groq", "base_url"),
    "GOOGLE_GEMINI_BASE_URL": ("llm", "providers", "gemini", "base_url"),
}
ENV_PREFIX = "PIYASA_"


@dataclass(frozen=True)
class Origin:
    """Where one configuration value came from."""

    kind: str  # default | toml | dotenv | env | cli
    file: str = ""
    line: int | None = None
    name: str = ""  # the env variable or the flag

    def where(self) -> str:
        """``config.toml:12``, ``.env:3``, ``environment``, ``--workers`` …"""
        if self.kind in ("toml", "dotenv"):
            return f"{self.file}:{self.line}" if self.line else self.file
        if self.kind == "env":
            return "environment"
        if self.kind == "cli":
            return "command line"
        return "built-in default"


def key_label(path: Path_) -> str:
    """A human label for a config path: ``[engine] timezone``, ``[[bots]] #2 username``."""
    if not path:
        return "(top level)"
    if path[0] in ("bots", "chats") and len(path) >= 2 and isinstance(path[1], int):
        rest = ".".join(str(p) for p in path[2:])
        return f"[[{path[0]}]] #{path[1] + 1}" + (f" {rest}" if rest else "")
    if len(path) == 1:
        return f"[{path[0]}]"
    return f"[{'.'.join(str(p) for p in path[:-1])}] {path[-1]}"


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; syntax errors become one-line :class:`ConfigError` with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (pass --config PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None


_TABLE = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def toml_lines(text: str) -> dict[Path_, int]:
    """Best-effort map from config paths to the line that sets them (for error messages)."""
    lines: dict[Path_, int] = {}
    table: Path_ = ()
    array_counts: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        table_match = _TABLE.match(raw)
        if table_match:
            names = [n.strip().strip('"') for n in table_match.group(2).split(".")]
            if table_match.group(1):  # [[array]]
                idx = array_counts.get(names[0], -1) + 1
                array_counts[names[0]] = idx
                table = (names[0], idx, *names[1:])
            elif names[0] in array_counts:  # [bots.emotion] belongs to the last [[bots]]
                table = (names[0], array_counts[names[0]], *names[1:])
            else:
                table = tuple(names)
            lines.setdefault(table, number)
            continue
        key_match = _KEY.match(raw)
        if key_match:
            lines.setdefault((*table, key_match.group(1)), number)
    return lines


def read_dotenv(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Parse a `.env` file with python-dotenv's parser; a bad line is a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: .env file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read .env file: {exc}") from None
    values: dict[str, str] = {}
    lines: dict[str, int] = {}

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            first = binding.original.string.strip().split("=", 1)[0].split()
            # name the key only when it looks like one: the line may be a pasted secret
            key = f" (key {first[0]!r})" if first and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", first[0]) else ""
            raise ConfigError(f"{path}:{binding.original.line}: cannot parse .env line{key}: expected KEY=value")
        if binding.key is None:
            continue
        if binding.value is None:  # a bare word: never echo it, it may be a pasted secret
            raise ConfigError(f"{path}:{binding.original.line}: cannot parse .env line: no '=' "
                              "(expected KEY=value)")
        values[binding.key] = binding.value or ""
        lines[binding.key] = binding.original.line
    return values, lines


def nearest(name: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def env_path_for(name: str) -> Path_ | None:
    """The config path an environment variable sets, or None when it sets none."""
    if name in ENV_ALIASES:
        return ENV_ALIASES[name]
    if name.startswith(ENV_PREFIX) and "__" in name:
        return tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
    return None


def coerce_env_value(raw: str, default: Any) -> Any:
    """Strings from the environment: lists as JSON or comma-separated, the rest left to pydantic."""
    if isinstance(default, list):
        text = raw.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return raw
        return [part.strip() for part in text.split(",") if part.strip()]
    return raw


def set_path(tree: dict[str, Any], path: Path_, value: Any) -> None:
    """Set ``tree[path]``, creating intermediate tables."""
    node: Any = tree
    for part in path[:-1]:
        if isinstance(node, list):
            node = node[part]  # type: ignore[index]
            continue
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def get_path(tree: Mapping[str, Any], path: Path_) -> Any:
    """``tree[path]`` or a sentinel-free ``None`` when absent."""
    node: Any = tree
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node
