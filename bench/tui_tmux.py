"""Drive the real `piyasa-tui` binary in tmux as a person would (send-keys, capture-pane).

Starts the dashboard on the embedded default in a fresh folder (time scale 60), then: waits until it
is alive, pauses and resumes with space, opens the provider list (p) and closes it, posts as a human
(/) mentioning @zeynep_newbie and waits for her answer in the feed, filters the feed (f), runs the
benchmark from its key (b, Enter: 10 simulated minutes at ×60), opens help (?), quits (q), and
checks that no worker process is left. Prints what it saw and how long each step took.

    .venv/bin/python bench/tui_tmux.py      (needs tmux: apt-get install tmux)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("piyasa-tui")
SESSION = f"piyasa-drive-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait(what: str, predicate: Callable[[str], bool], timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate(screen()):
            took = time.monotonic() - started
            print(f"  ✓ {what} ({took:.2f} s)")
            return took
        time.sleep(0.1)
    print(screen())
    raise SystemExit(f"✗ {what}: not seen within {timeout} s")


def main() -> int:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed (apt-get install tmux)")
    folder = Path(tempfile.mkdtemp(prefix="piyasa-tmux-"))
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    env = f"cd {folder} && PIYASA_TIME_SCALE=60 {EXE} init >/dev/null && PIYASA_TIME_SCALE=60 {EXE}"
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "36", env)
    try:
        print("driving piyasa-tui in tmux (120×36):")
        wait("dashboard alive: 4 workers running", lambda s: s.count("running") >= 4 and "piyasa" in s, 30)
        wait("messages in the feed", lambda s: "→ piyasa-local" in s, 60)
        tmux("send-keys", "-t", SESSION, "Space")
        wait("space pauses the simulation", lambda s: "simulation: paused" in s, 5)
        tmux("send-keys", "-t", SESSION, "Space")
        wait("space resumes it", lambda s: "simulation: running" in s, 5)
        tmux("send-keys", "-t", SESSION, "p")
        wait("p lists the providers with their states", lambda s: "auth_error" in s and "offline" in s, 5)
        tmux("send-keys", "-t", SESSION, "Escape")
        wait("escape closes it", lambda s: "auth_error — " not in s, 5)
        time.sleep(0.5)  # a key right after Escape would reach the terminal as Alt+key
        tmux("send-keys", "-t", SESSION, "/")
        wait("/ opens the post form", lambda s: "Post as a human" in s or "Operatör" in s, 5)
        time.sleep(0.3)
        tmux("send-keys", "-t", SESSION, "-l", "@zeynep_newbie altin nasil alinir?")
        time.sleep(0.3)
        tmux("send-keys", "-t", SESSION, "Enter")
        wait("Zeynep answers the human", lambda s: any("Zeynep Yeni" in line and "↩ Operatör" in line
                                                       for line in s.splitlines()), 30)
        tmux("send-keys", "-t", SESSION, "f")
        wait("f moves into the filter line", lambda s: "Enter applies" in s, 5)
        tmux("send-keys", "-t", SESSION, "-l", "w1")
        tmux("send-keys", "-t", SESSION, "Enter")
        wait("the feed shows worker 1 only", lambda s: "filter: w1" in s, 5)
        tmux("send-keys", "-t", SESSION, "f")
        wait("f again", lambda s: "Enter applies" in s, 5)
        tmux("send-keys", "-t", SESSION, "BSpace", "BSpace", "Enter")
        wait("an empty filter clears it", lambda s: "filter: w1" not in s and "Feed (follow)" in s, 5)
        tmux("send-keys", "-t", SESSION, "b")
        wait("b asks for the benchmark's duration and time scale", lambda s: "Start the benchmark" in s, 5)
        tmux("send-keys", "-t", SESSION, "Enter")
        wait("the benchmark runs and ends with a verdict (10 simulated min at ×60)",
             lambda s: "PASSED" in s or "FAILED" in s, 60)
        print("    " + next(line.strip(" │") for line in screen().splitlines() if "Benchmark " in line))
        tmux("send-keys", "-t", SESSION, "Escape")
        time.sleep(0.5)
        tmux("send-keys", "-t", SESSION, "?")
        wait("? shows the keys", lambda s: "restart" in s and "quit" in s, 5)
        tmux("send-keys", "-t", SESSION, "Escape")
        time.sleep(0.5)  # a key right after Escape would reach the terminal as Alt+key
        tmux("send-keys", "-t", SESSION, "q")
        started = time.monotonic()
        while time.monotonic() - started < 15:
            if SESSION not in subprocess.run(["tmux", "ls"], capture_output=True, text=True).stdout:
                break
            time.sleep(0.2)
        print(f"  ✓ q quits ({time.monotonic() - started:.2f} s)")
        left = subprocess.run(["pgrep", "-f", f"{EXE}$"], capture_output=True, text=True).stdout.split()
        workers = subprocess.run(["pgrep", "-f", "multiprocess.spawn"], capture_output=True, text=True).stdout.split()
        print(f"  {'✓' if not left else '✗'} no process of this run left ({len(left)} found; "
              f"spawned workers on the machine: {len(workers)})")
        return 0 if not left else 1
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
