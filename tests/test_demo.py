"""`make demo`'s supervisor: it serves the product with the demo logins and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; its parent reaps it.
    status = (
        Path(f"/proc/{pid}/stat").read_text().split()[2]
        if Path(f"/proc/{pid}/stat").exists()
        else "X"
    )
    return status != "Z"


@pytest.mark.django_db(transaction=True)
def test_demo_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    pid_file = tmp_path / "pids"
    env = dict(os.environ)
    # The demo migrates and loads its data into the test database the suite already uses.
    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = f"postgresql://{db['USER']}@{db['HOST'].replace('/', '%2F')}/{db['NAME']}"
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "portal.supervisor", "demo", "--var", str(tmp_path), "--web-port", str(port),
         "--pid-file", str(pid_file)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        page = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/accounts/login/", timeout=2
                ) as response:
                    page = response.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert "password" in page.lower()
        from accounts.models import User

        assert set(User.objects.values_list("email", flat=True)) >= {
            "owner@demo.test", "installer@demo.test", "driver1@demo.test", "driver2@demo.test"
        }  # fmt: skip
        children = [int(pid) for pid in pid_file.read_text().split()]
        assert len(children) >= 3  # web, worker, beat
        # The depot is bridged to the demo's own third-party central system: its chargers'
        # links connect and boot there.
        from upstream.choices import LinkState
        from upstream.models import UpstreamLink

        connected = UpstreamLink.objects.filter(
            state=LinkState.CONNECTED, charger__ocpp_identity__startswith="NLD-"
        )
        deadline = time.monotonic() + 60
        while not connected.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert connected.exists()
        record = tmp_path / "demo-upstream.log"
        deadline = time.monotonic() + 5
        while "BootNotification" not in record.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert " NLD-" in record.read_text()
    finally:
        supervisor.send_signal(signal.SIGINT)
        output, _ = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 0, output
    assert "owner@demo.test" in output and "fusebox-demo" in output
    assert "all stopped" in output
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
