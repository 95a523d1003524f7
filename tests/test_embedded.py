"""`portal.embedded`: the embedded PostgreSQL and Redis stop with the command they serve, also
when the whole thing is told to stop with SIGTERM (``kill``, a service manager, ``timeout``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _servers_of(folder: Path) -> list[int]:
    """The pids of processes whose command line names ``folder`` (its PostgreSQL and Redis)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if str(folder) in command and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def test_sigterm_stops_the_command_then_the_servers(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    waiter = (
        "import os, pathlib, time; "
        f"pathlib.Path({str(ready)!r}).write_text(os.environ['DATABASE_URL']); time.sleep(60)"
    )
    log = tmp_path / "output"
    with log.open("wb") as output:
        embedded = subprocess.Popen(
            [sys.executable, "-m", "portal.embedded", "--var", str(folder), "--",
             sys.executable, "-c", waiter],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), log.read_text()
        assert "postgresql://" in ready.read_text()
        assert _servers_of(folder)  # PostgreSQL and Redis run for the command
        embedded.send_signal(signal.SIGTERM)
        embedded.wait(timeout=30)
    finally:
        if embedded.poll() is None:
            embedded.kill()
    deadline = time.monotonic() + 10
    while _servers_of(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _servers_of(folder) == []
