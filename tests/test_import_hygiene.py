"""piyasa_core never imports the UI (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = """
import importlib, pkgutil, sys
import piyasa_core
for mod in pkgutil.walk_packages(piyasa_core.__path__, "piyasa_core."):
    if ".migrations" in mod.name:
        continue  # alembic scripts run only inside alembic's context
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "piyasa_tui"))
print("IMPORTED", len([m for m in sys.modules if m.startswith("piyasa_core")]))
print("UI", bad)
"""


def test_core_does_not_import_textual() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "UI []" in result.stdout, result.stdout
    assert int(result.stdout.split("IMPORTED ")[1].split()[0]) >= 10


def test_core_sources_do_not_name_the_ui() -> None:
    for path in (REPO / "piyasa_core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import textual", "from textual", "import piyasa_tui",
                                            "from piyasa_tui")), f"{path}: {stripped}"
