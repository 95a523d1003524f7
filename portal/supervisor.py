"""Run the whole Fusebox system in one terminal: the demo's process supervisor.

``python -m portal.supervisor demo`` migrates, loads the demo data, then runs web (uvicorn),
the Celery worker and beat (and the OCPP bridge and charger simulator once they exist), restarts
a process that dies, and on Ctrl-C or SIGTERM stops them all and waits for them, so nothing is
left behind. It expects DATABASE_URL and REDIS_URL (``portal.embedded`` sets them).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from portal.demo import DEMO_PASSWORD, DEMO_UPSTREAM_PORT, USERS

PYTHON = sys.executable
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor is killed outright, the child gets SIGTERM."""
    with contextlib.suppress(OSError):  # not Linux: the supervisor's own shutdown still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Service:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, start_new_session=True, preexec_fn=_die_with_parent
        )
        print(f"[supervisor] started {self.name} (pid {self.process.pid})", flush=True)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def services(var_dir: Path, web_port: int, with_workers: bool) -> list[Service]:
    listed = [
        Service("web", [PYTHON, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
                        "--port", str(web_port), "--lifespan", "off", "--no-access-log"]),
    ]  # fmt: skip
    if with_workers:
        listed += [
            Service("worker", [PYTHON, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", "--concurrency=2"]),
            Service("beat", [PYTHON, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
                             "--schedule", str(var_dir / "celerybeat-schedule")]),
        ]  # fmt: skip
    # The OCPP bridge and the simulator join the demo as soon as their modules exist.
    if _module_exists("ocpp_bridge.bridge"):
        listed.append(Service("bridge", [PYTHON, "manage.py", "run_bridge"]))
    if _module_exists("ocpp_bridge.simulator"):
        listed.append(Service("simulator", [PYTHON, "manage.py", "simulate", "--demo"]))
    # A third-party central system the depot is bridged to (docs/upstream.md).
    listed.append(
        Service("upstream", [PYTHON, "-m", "ocpp_bridge.demo_upstream", "--port", str(DEMO_UPSTREAM_PORT),
                             "--record", str(var_dir / "demo-upstream.log")])
    )  # fmt: skip
    return listed


def prepare() -> None:
    for step in (
        ["migrate", "--noinput", "-v", "0"],
        ["load_demo_data"],
        ["seed_demo_history"],
        ["collectstatic", "--noinput", "-v", "0"],
    ):
        subprocess.run([PYTHON, "manage.py", *step], check=True)


def banner(web_port: int) -> str:
    logins = "\n".join(f"    {email:<22} {DEMO_PASSWORD}" for email, _ in USERS)
    return (
        f"\n  Fusebox is running: http://127.0.0.1:{web_port}/\n"
        f"  API docs:           http://127.0.0.1:{web_port}/api/v1/docs/\n"
        f"  Demo logins (e-mail / password):\n{logins}\n"
        "  Ctrl-C stops everything.\n"
    )


def supervise(running: list[Service], pid_file: Path | None) -> int:
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for service in running:
        service.start()
    if pid_file:
        pid_file.write_text("\n".join(str(s.process.pid) for s in running if s.process))
    while not stopping:
        time.sleep(0.2)
        for service in running:
            if stopping or service.process is None or service.process.poll() is None:
                continue
            now = time.monotonic()
            service.restarts = [t for t in service.restarts if now - t < 60] + [now]
            if len(service.restarts) > 5:
                print(f"[supervisor] {service.name} keeps dying; stopping everything", flush=True)
                stopping = True
                break
            print(
                f"[supervisor] {service.name} exited ({service.process.returncode}); restarting",
                flush=True,
            )
            service.start()
    print("[supervisor] stopping...", flush=True)
    for service in reversed(running):
        service.stop()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for service in running:
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[supervisor] {service.name} did not stop in time; killing it", flush=True)
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
    print("[supervisor] all stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the Fusebox demo: web, worker, beat, bridge, simulator, a demo upstream."
    )
    parser.add_argument("mode", choices=["demo"])
    parser.add_argument("--var", default="var/demo", type=Path, help="folder for runtime files")
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
    parser.add_argument(
        "--no-workers", action="store_true", help="run without the Celery worker and beat"
    )
    parser.add_argument(
        "--pid-file", type=Path, help="write the children's pids here (used by tests)"
    )
    args = parser.parse_args(argv)
    args.var.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # The demo runs on one machine: a webhook receiver on it (localhost) is what one tries first.
    os.environ.setdefault("WEBHOOKS_ALLOW_LOCAL", "true")
    os.environ.setdefault("UPSTREAM_ALLOW_LOCAL", "true")
    prepare()
    running = services(args.var, args.web_port, with_workers=not args.no_workers)
    print(banner(args.web_port), flush=True)
    return supervise(running, args.pid_file)


if __name__ == "__main__":
    sys.exit(main())
