"""The balancing engine: pure Python, no Django, no I/O, no clock.

`solve(scenario) -> allocation` speaks the JSON of docs/BALANCING.md. The modules, one rule each:

- `model`: parse and validate the snapshot (`ScenarioError` names the bad field);
- `network`: fuses, phases and imbalance limits as linear constraints (rule 1, never overload);
- `demand`: what each car wants and on which phases, read from measurements;
- `admission`: which cars are served, by priority and rotation (rule 2);
- `fairness`: the max-min fair split among served cars (rule 3) and the top-up (rule 4);
- `leximin`: the exact max-min fair split on small sites with a phase-imbalance limit (rule 3);
- `calm`: hysteresis and the order of changes (rule 5);
- `solve`: the pipeline that runs them; `units`, `tuning`, `notes`: shared helpers.

Nothing here may import Django or the apps around it; tests/balancing/test_engine_is_pure.py
checks that in a fresh interpreter. The Django side (service, tasks, dashboard, views) lives in
the `balancing` app around this package and calls in.
"""

from balancing.engine.model import ScenarioError
from balancing.engine.solve import solve

__all__ = ["ScenarioError", "solve"]
