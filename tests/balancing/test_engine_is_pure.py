"""The engine package stands alone: importing it loads no Django and none of the apps around it."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import balancing.engine
from balancing.engine import solve
import balancing.engine.admission, balancing.engine.calm, balancing.engine.demand
import balancing.engine.fairness, balancing.engine.leximin, balancing.engine.model
import balancing.engine.network
import balancing.engine.notes, balancing.engine.tuning, balancing.engine.units
loaded = sorted(name for name in sys.modules
                if name.split('.')[0] in ('django', 'rest_framework', 'celery', 'portal',
                                          'chargers', 'installations', 'ocpp_bridge', 'accounts',
                                          'auth_access', 'reporting')
                or name in ('balancing.service', 'balancing.snapshot', 'balancing.models',
                            'balancing.dashboard'))
print(json.dumps(loaded))
"""


def test_importing_the_engine_loads_no_django_and_no_app_module():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert json.loads(result.stdout) == []


def test_engine_modules_import_only_the_standard_library_and_each_other():
    engine = ROOT / "balancing" / "engine"
    allowed_local = "balancing.engine"
    for source in sorted(engine.glob("*.py")):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("from balancing") or stripped.startswith("import balancing"):
                module = stripped.split()[1]
                assert module == allowed_local or module.startswith(allowed_local + "."), (
                    f"{source.name} imports {module} from outside the engine"
                )
