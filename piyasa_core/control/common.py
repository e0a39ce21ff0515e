"""Shared pieces of the control API: the error type, the bearer token file, URLs and discovery."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets as _secrets
import stat
from pathlib import Path
from typing import Any

from piyasa_core.errors import ConfigError, PiyasaError
from piyasa_core.secrets import Secret, redact

TOKEN_FILE = "control.token"
STATE_FILE = "control.json"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ControlError(PiyasaError):
    """The control API could not be reached or refused a request (one line, never the token)."""

    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status  # the HTTP status when the server answered, else None


# ── bearer token ─────────────────────────────────────────────────────────────────────────────

def _read_token_file(path: Path) -> Secret:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"control token file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"control token file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(f"control token file {path} is readable by group/other (mode {mode:04o}); "
                          f"run: chmod 600 {path}")
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"control token file {path}: cannot read it ({type(exc).__name__})") from None
    if not value:
        raise ConfigError(f"control token file {path} is empty; delete it to have a new token created")
    return Secret(value)


def _create_token_file(path: Path) -> Secret:
    """Write a fresh token: a 0600 temp file (O_CREAT|O_EXCL) hard-linked into place, so readers
    never see a half-written file and a concurrent creator cannot be overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    value = _secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, (value + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:  # someone else created it first: use theirs
            return _read_token_file(path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return Secret(value)


def resolve_token(env_value: str | None, data_dir: Path) -> Secret:
    """The control API's bearer token: ``env_value`` when set, else ``<data_dir>/control.token``
    (which must be mode 0600), else a newly created token file. Raises :class:`ConfigError`."""
    if env_value is not None and env_value.strip():
        return Secret(env_value.strip())
    path = Path(data_dir).expanduser() / TOKEN_FILE
    if os.path.lexists(path):
        return _read_token_file(path)
    return _create_token_file(path)


# ── addresses ────────────────────────────────────────────────────────────────────────────────

def loopback_host(host: str) -> str:
    """``host`` when it is a loopback address (127.0.0.0/8 or ::1; ``localhost`` → 127.0.0.1),
    else ValueError: the control API must never listen on a reachable interface."""
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return DEFAULT_HOST
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None and (
        (address.version == 4 and address in ipaddress.ip_network("127.0.0.0/8"))
        or (address.version == 6 and address == ipaddress.IPv6Address("::1"))
    ):
        return str(address)
    raise ValueError(f"control API host {host!r} is not a loopback address; "
                     "only 127.0.0.0/8 or ::1 are allowed")


def control_url(host: str, port: int) -> str:
    """``http://host:port`` with IPv6 hosts bracketed."""
    text = host.strip().strip("[]")
    if ":" in text:
        text = f"[{text}]"
    return f"http://{text}:{int(port)}"


# ── discovery ────────────────────────────────────────────────────────────────────────────────

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_state(data_dir: Path, url: str) -> Path:
    """Write ``<data_dir>/control.json`` (``{"url", "pid"}``) atomically, mode 0600."""
    directory = Path(data_dir).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.{_secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"url": url, "pid": os.getpid()}, handle)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The parsed ``control.json`` when it exists and is well formed, else None."""
    path = Path(data_dir).expanduser() / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("url"), str):
        return None
    return state


def remove_state(data_dir: Path, url: str) -> None:
    """Remove ``control.json`` if it still describes this process's server."""
    state = read_state(data_dir)
    if state is not None and state.get("url") == url and state.get("pid") == os.getpid():
        try:
            (Path(data_dir).expanduser() / STATE_FILE).unlink()
        except FileNotFoundError:
            pass


def discover(data_dir: Path, env_token: str | None = None) -> tuple[str, Secret] | None:
    """``(url, token)`` of the server that wrote ``<data_dir>/control.json``, or None when there is
    no such file, it is stale (its pid is gone) or no token is known. The token is ``env_token``
    when set, else the token file (ConfigError when its mode is too open)."""
    state = read_state(data_dir)
    if state is None:
        return None
    pid = state.get("pid")
    if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and not _pid_alive(pid):
        return None
    if env_token is not None and env_token.strip():
        return state["url"], Secret(env_token.strip())
    path = Path(data_dir).expanduser() / TOKEN_FILE
    if not os.path.lexists(path):
        return None
    return state["url"], _read_token_file(path)
