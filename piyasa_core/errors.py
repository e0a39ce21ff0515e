"""Error types whose message is one line meant for the operator."""

from __future__ import annotations


class PiyasaError(Exception):
    """Base class: ``str(err)`` is a single line naming what was wrong and where."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split("\n")))


class ConfigError(PiyasaError):
    """Bad configuration, `.env` or command-line input (exit code 2)."""

    exit_code = 2


class StoreUnavailable(PiyasaError):
    """The database cannot be reached or opened (exit code 2: the URL is input)."""

    exit_code = 2
