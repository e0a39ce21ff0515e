"""Secret values that never show in repr, str, logs, reports or exception text."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# Environment variable names whose values are secrets wherever they appear.
SECRET_NAME_PATTERN = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD|PASSWD)$|^DATABASE_URL$|^REDIS_URL$", re.I)


class Secret:
    """A string that masks itself; call :meth:`reveal` at the single point of use."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real value, for handing to an SDK or a connection."""
        return self._value

    def fingerprint(self) -> str:
        """A short hash so operators can tell two values apart without seeing them."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        # Pickling (worker spawn) must keep the value; only display forms are masked.
        return (Secret, (self._value,))


def is_secret_name(name: str) -> bool:
    """True when an environment variable of this name holds a secret."""
    return bool(SECRET_NAME_PATTERN.search(name))


def mask_value(name: str, value: str | None) -> str:
    """How a value is shown in diffs and tables: secrets as a fingerprint, never the value."""
    if value is None:
        return "(unset)"
    if is_secret_name(name) or isinstance(value, Secret):
        raw = value.reveal() if isinstance(value, Secret) else value
        if not raw:
            return "(empty)"
        return f"{MASK} (sha256 {hashlib.sha256(raw.encode()).hexdigest()[:8]})"
    return value


def mask_url(url: str) -> str:
    """A URL with any password (and a bot token path segment) replaced by the mask."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.scheme.startswith("sqlite"):  # a file path, no secret: keep it as written (urlunsplit would drop a /)
        return url
    netloc = parts.netloc
    if parts.password:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}"
    path = re.sub(r"/bot[^/]+", f"/bot{MASK}", parts.path)
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


_registry: set[str] = set()
_registry_lock = threading.Lock()
_MIN_SECRET_LEN = 4  # shorter values would redact ordinary words


def register_secret(value: str) -> None:
    """Remember a secret value so :func:`redact` removes it from any text."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _registry_lock:
            _registry.add(value)
            # passwords embedded in URLs are secrets too
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password and len(password) >= _MIN_SECRET_LEN:
                _registry.add(password)


def register_secrets(values: Iterable[str]) -> None:
    """Register several secret values at once."""
    for value in values:
        register_secret(value)


def redact(text: str) -> str:
    """Replace every registered secret value (and Telegram-token-shaped text) in ``text``."""
    with _registry_lock:
        secrets = sorted(_registry, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _TOKEN_SHAPE.sub(MASK, text)


# A Telegram bot token: numeric id, colon, 35 url-safe characters.
_TOKEN_SHAPE = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")


class RedactingFilter(logging.Filter):
    """A logging filter that removes secrets from the message and from exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach :class:`RedactingFilter` to every handler of ``logger`` (root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class MaskedEnv(Mapping[str, str]):
    """A read-only environment snapshot whose repr never shows values."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        register_secrets(v for k, v in self._values.items() if is_secret_name(k))

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"MaskedEnv({len(self._values)} variables)"

    __str__ = __repr__

    def to_dict(self) -> dict[str, str]:
        """The real values, for handing to a child process."""
        return dict(self._values)
