"""Load and phase balancing for one installation: a pure engine, no Django, no I/O.

`balancing.engine.solve(scenario) -> allocation` and ``python -m balancing`` speak the JSON of
docs/BALANCING.md. The Django side (service, tasks, models) lives next to it and calls in.
"""

from balancing.engine import solve
from balancing.model import ScenarioError

__all__ = ["ScenarioError", "solve"]
