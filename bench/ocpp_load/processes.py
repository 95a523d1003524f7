"""The benchmark's processes: the bridge, the simulator workers, and what /proc says of them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PYTHON = sys.executable
LINE_LIMIT = 256 * 1024 * 1024  # a stats reply carries every round-trip time of a phase


# --- /proc ---------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime


def services_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL and Redis servers this run uses (found by the sockets in
    DATABASE_URL and REDIS_URL): the postmaster with its live and ended backends, and Redis."""
    database = unquote(urlsplit(os.environ.get("DATABASE_URL", "")).netloc.rpartition("@")[2])
    redis = urlsplit(os.environ.get("REDIS_URL", "")).path
    total = 0.0
    postmasters: set[int] = set()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
        if database and "postgres" in command and f"-D {database}" in command:
            postmasters.add(int(entry.name))
        elif redis and "redis-server" in command and redis in command:
            total += _cpu_or_zero(int(entry.name))
    for pid in postmasters:
        total += _cpu_or_zero(pid, with_children=True)
        total += sum(_cpu_or_zero(child) for child in children.get(pid, []))
    return total


def _cpu_or_zero(pid: int, *, with_children: bool = False) -> float:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    if with_children:  # ended children the process waited for (e.g. backends)
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS_PER_S


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) in kB."""
    result = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            result[key] = int(value.split()[0])
    return result


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICKS_PER_S, sum(values) / TICKS_PER_S


@dataclass
class Usage:
    """CPU and memory of a set of processes over a stretch of time."""

    started: float = field(default_factory=time.monotonic)
    cpu: dict[int, float] = field(default_factory=dict)
    machine: tuple[float, float] = field(default_factory=machine_cpu)
    services: float = field(default_factory=services_cpu_seconds)

    @classmethod
    def now(cls, pids: list[int]) -> Usage:
        usage = cls()
        for pid in pids:
            with contextlib.suppress(OSError):
                usage.cpu[pid] = cpu_seconds(pid)
        return usage

    def since(self, earlier: Usage) -> dict[str, Any]:
        """CPU per process in % of one core, and the machine's busy share, between two samples."""
        wall = max(1e-6, self.started - earlier.started)
        per_pid = {
            pid: round(100 * (self.cpu[pid] - earlier.cpu.get(pid, self.cpu[pid])) / wall, 1)
            for pid in self.cpu
        }
        busy = self.machine[0] - earlier.machine[0]
        total = self.machine[1] - earlier.machine[1]
        return {"wall_s": round(wall, 1), "cpu_percent": per_pid,
                "services_cpu_percent": round(100 * (self.services - earlier.services) / wall, 1),
                "machine_busy_percent": round(100 * busy / max(total, 1e-6), 1)}  # fmt: skip


# --- the bridge ----------------------------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_bridge(
    port: int, log_path: Path, profile_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """``manage.py run_bridge`` on 127.0.0.1 (under cProfile, writing ``profile_path`` when it
    stops, if given)."""
    env = dict(os.environ, OCPP_BRIDGE_HOST="127.0.0.1", OCPP_BRIDGE_PORT=str(port),
               OCPP_HEARTBEAT_INTERVAL_S=os.environ.get("OCPP_HEARTBEAT_INTERVAL_S", "300"),
               LOG_LEVEL="INFO")  # fmt: skip
    with log_path.open("wb") as log:
        profiler = ["-m", "cProfile", "-o", str(profile_path)] if profile_path else []
        command = [PYTHON, *profiler, "manage.py", "run_bridge", "--host", "127.0.0.1",
                   "--port", str(port), "--stats-interval", "10"]  # fmt: skip
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the bridge did not start (see {log_path})")
        time.sleep(0.2)
    return process


def stop_process(
    process: subprocess.Popen[bytes] | asyncio.subprocess.Process, timeout: float
) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(process.pid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)


# --- the simulator workers -----------------------------------------------------------------------


class Worker:
    """One ``python -m ocpp_bridge.simulator --control`` process and its command pipe."""

    def __init__(self, index: int, process: asyncio.subprocess.Process) -> None:
        self.index = index
        self.process = process
        self.final: dict[str, Any] | None = None

    @classmethod
    async def start(
        cls, index: int, arguments: list[str], log_path: Path, profile_path: Path | None = None
    ) -> Worker:
        profiler = ["-m", "cProfile", "-o", str(profile_path)] if profile_path else []
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                PYTHON, *profiler, "-m", "ocpp_bridge.simulator", "--control", *arguments,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                limit=LINE_LIMIT,
            )  # fmt: skip
        return cls(index, process)

    async def ask(self, command: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        if command["cmd"] == "stop":
            return await self.wait_final(timeout)
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"simulator worker {self.index} ended")
        return json.loads(line)

    async def wait_final(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        while self.final is None:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"simulator worker {self.index} ended without final stats")
            reply = json.loads(line)
            if reply.get("reply") == "final":
                self.final = reply
        await asyncio.wait_for(self.process.wait(), timeout)
        return self.final
