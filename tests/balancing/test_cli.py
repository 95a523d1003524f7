"""`python -m balancing`: the same JSON as `solve`, through stdin and stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from balancing.engine import solve
from tests.balancing.builders import charger, scenario

REPOSITORY = Path(__file__).resolve().parents[2]


def _run(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balancing"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        timeout=60,
        check=False,
    )


def _snapshot() -> dict[str, Any]:
    return scenario(
        [charger("cp-1"), charger("cp-2", phases=1, rotation="L3"), charger("cp-3")],
        main_limit=20,
    )


def test_cli_prints_the_allocation_that_solve_returns() -> None:
    completed = _run(json.dumps(_snapshot()))

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == solve(_snapshot())
    assert completed.stderr == ""


def test_cli_output_is_byte_identical_across_runs() -> None:
    first = _run(json.dumps(_snapshot()))
    second = _run(json.dumps(_snapshot()))

    assert first.stdout == second.stdout


def test_cli_rejects_invalid_json_with_exit_status_2() -> None:
    completed = _run("{not json")

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "balancing: input is not JSON" in completed.stderr


def test_cli_rejects_a_bad_field_naming_it() -> None:
    snapshot = _snapshot()
    del snapshot["chargers"][1]["min_current"]

    completed = _run(json.dumps(snapshot))

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "chargers[1].min_current: is required" in completed.stderr
