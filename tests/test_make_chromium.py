"""`make test` on a fresh machine: tools/ensure-chromium installs Debian's Chromium when it may,
and otherwise stops at once with one line saying what to run.

The script is run with fake `id`, `sudo` and `apt-get` first on PATH, so each kind of machine
(root, password-less sudo, neither) is reproduced without touching this one.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "ensure-chromium"


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run(tmp_path: Path, *, uid: int, sudo_ok: bool) -> tuple[subprocess.CompletedProcess, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chromium = tmp_path / "usr-bin-chromium"
    log = tmp_path / "apt.log"
    _fake(bin_dir, "id", f'[ "$1" = "-u" ] && echo {uid}')
    _fake(bin_dir, "sudo", 'shift; exec "$@"' if sudo_ok else "exit 1")
    # The fake apt-get records its arguments; `install` puts a Chromium in place.
    _fake(
        bin_dir,
        "apt-get",
        f'echo "$@" >> {log}\n'
        f'[ "$1" = install ] && printf "#!/bin/sh\\n" > {chromium} && chmod +x {chromium}\n'
        "exit 0",
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CHROMIUM": str(chromium),
        "APT_GET": "apt-get",
    }
    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    return result, log


def test_present_chromium_needs_nothing(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    env = {**os.environ, "CHROMIUM": str(chromium), "APT_GET": "/nonexistent/apt-get"}
    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""


def test_root_installs_debian_chromium(tmp_path: Path) -> None:
    result, log = _run(tmp_path, uid=0, sudo_ok=False)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1].startswith("install -y")
    assert "chromium" in calls[1].split()


def test_passwordless_sudo_installs_too(tmp_path: Path) -> None:
    result, log = _run(tmp_path, uid=1000, sudo_ok=True)
    assert result.returncode == 0, result.stderr
    assert "install" in log.read_text()


def test_without_root_it_stops_at_once_with_one_line(tmp_path: Path) -> None:
    result, log = _run(tmp_path, uid=1000, sudo_ok=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "sudo apt-get install chromium" in lines[0]
    assert not log.exists()  # nothing was attempted
