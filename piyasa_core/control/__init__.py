"""The supervisor's local control API (`piyasa-tui --serve`) and its client (`--attach`, `status`).

Every route needs ``Authorization: Bearer <token>``; the server only listens on loopback.
"""

from piyasa_core.control.client import ControlClient, fetch_status
from piyasa_core.control.common import (
    STATE_FILE,
    TOKEN_FILE,
    ControlError,
    control_url,
    discover,
    loopback_host,
    resolve_token,
)
from piyasa_core.control.server import ControlServer, ControlTarget

__all__ = [
    "STATE_FILE",
    "TOKEN_FILE",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "ControlTarget",
    "control_url",
    "discover",
    "fetch_status",
    "loopback_host",
    "resolve_token",
]
