"""`piyasa-tui --serve` as a real process: control API, /metrics, orphans, no Textual, status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.engine_support import SIM_START_AT
from tests.test_cli import EXE, run_cli

pytestmark = pytest.mark.e2e  # also run under a night clock and on a Sunday (.ci/run)


def _request(url: str, token: str | None = None, data: dict | None = None) -> tuple[int, bytes]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = json.dumps(data).encode() if data is not None else None
    if body:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served(workdir: Path) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIYASA_")}
    env["PIYASA_TIME_SCALE"] = "60"
    env["PIYASA_ENGINE__START_AT"] = SIM_START_AT  # the bots speak whatever the wall clock says
    proc = subprocess.Popen([str(EXE), "--serve", "--port", "0"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    info = workdir / "data" / "control.json"
    deadline = time.monotonic() + 30
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert info.exists(), proc.stdout.read() if proc.poll() is not None else "no control.json"  # type: ignore[union-attr]
    url = json.loads(info.read_text())["url"]
    token = (workdir / "data" / "control.token").read_text().strip()
    try:
        yield proc, url, token
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def _workers(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if "piyasa" in " ".join(p.cmdline()) or
            "multiprocess" in " ".join(p.cmdline())]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_gone(processes: list[psutil.Process], timeout: float) -> bool:
    """Whether every one of ``processes`` has ended (zombies count as ended) within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_control_api_metrics_and_clean_stop(served: tuple[subprocess.Popen[str], str, str], workdir: Path) -> None:
    proc, url, token = served
    assert url.startswith("http://127.0.0.1:")
    for path in ("/status", "/metrics", "/events"):
        assert _request(url + path)[0] == 401
        assert _request(url + path, "wrong")[0] == 401
    deadline = time.monotonic() + 30
    snapshot: dict = {}  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        status, body = _request(url + "/status", token)
        snapshot = json.loads(body)
        if status == 200 and sum(1 for w in snapshot["workers"] if w["state"] == "running") == 4 and \
                snapshot["sent_total"] > 0:
            break
        time.sleep(0.3)
    assert [w["state"] for w in snapshot["workers"]] == ["running"] * 4
    deadline = time.monotonic() + 10  # engine metrics arrive once a second
    while True:
        status, body = _request(url + "/metrics", token)
        text = body.decode()
        if "piyasa_cache_requests_total" in text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status == 200
    for name in ("piyasa_messages_sent_total", "piyasa_worker_up", "piyasa_cache_requests_total",
                 "piyasa_llm_requests_total", "piyasa_generation_seconds_bucket"):
        assert name in text, name
    assert 'piyasa_worker_up{worker="3"} 1.0' in text
    assert any(line.startswith("piyasa_messages_sent_total{") and 'worker="' in line for line in text.splitlines())
    status, body = _request(url + "/provider", token, {"name": "gemini"})
    assert status == 200 and json.loads(body)["provider"] == "gemini"
    out = run_cli("status", cwd=workdir, env={"COLUMNS": "200"})
    assert out.returncode == 0 and "workers" in out.stdout and "running" in out.stdout
    as_json = run_cli("status", "--json", cwd=workdir)
    assert json.loads(as_json.stdout)["active_provider"] == "gemini"
    children = _workers(proc.pid)
    assert len(children) >= 4
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert _all_gone(children, timeout=10)
    lines = [json.loads(line) for line in proc.stdout.read().splitlines() if line.startswith("{")]  # type: ignore[union-attr]
    assert any("stopped in" in entry["msg"] for entry in lines)
    assert token not in json.dumps(lines)
    assert not (workdir / "data" / "control.json").exists()


def test_killing_the_supervisor_leaves_no_worker_behind(served: tuple[subprocess.Popen[str], str, str]) -> None:
    proc, url, token = served
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_workers(proc.pid)) < 4:
        time.sleep(0.2)
    children = _workers(proc.pid)
    assert len(children) >= 4
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    assert _all_gone(children, timeout=30), [c.pid for c in children if _alive(c)]


def test_status_without_a_server_is_one_clear_line(workdir: Path) -> None:
    result = run_cli("status", cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "no running piyasa-tui --serve found" in result.stderr


def test_serve_mode_never_imports_textual() -> None:
    script = ("import sys; import piyasa_tui.cli, piyasa_tui.commands, piyasa_core.serve, "
              "piyasa_core.workers.supervisor, piyasa_core.control; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
