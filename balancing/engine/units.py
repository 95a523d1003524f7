"""Current units used inside the engine.

The solver works in whole deci-amperes (0.1 A) held in ints. The contract rounds every limit
down to 0.1 A anyway, and integer arithmetic makes "never overload" an exact comparison instead
of a float comparison with an epsilon, and keeps the output byte-identical run after run.
Rounding always goes the safe way: capacities down, loads and reservations up.
"""

from __future__ import annotations

import math

DECIAMPS_PER_AMP = 10
PHASE_NAMES = ("L1", "L2", "L3")

# Input floats such as 6.3 are 62.99999... once multiplied; this tolerance stops such noise from
# costing (or reserving) a whole 0.1 A step.
_ROUNDING_SLACK = 1e-6


def floor_da(amps: float) -> int:
    """Amperes to deci-amperes, rounded down: for capacities and limits we may use."""
    return math.floor(amps * DECIAMPS_PER_AMP + _ROUNDING_SLACK)


def ceil_da(amps: float) -> int:
    """Amperes to deci-amperes, rounded up: for loads and reservations we must respect."""
    return math.ceil(amps * DECIAMPS_PER_AMP - _ROUNDING_SLACK)


def da_to_amps(deciamps: int) -> float:
    """Deci-amperes to amperes as they appear in the output (16.3, 6.0)."""
    return deciamps / DECIAMPS_PER_AMP


def format_da(deciamps: int) -> str:
    """Human form for notes: 6 A, 6.5 A."""
    if deciamps < 0:
        return "-" + format_da(-deciamps)
    whole, tenth = divmod(deciamps, DECIAMPS_PER_AMP)
    return f"{whole} A" if tenth == 0 else f"{whole}.{tenth} A"


def format_phases(phases: tuple[int, ...]) -> str:
    """Installation phase indices to names: (0, 2) -> "L1, L3"."""
    return ", ".join(PHASE_NAMES[phase] for phase in phases)
