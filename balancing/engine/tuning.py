"""Thresholds of the balancing engine, in one place so their trade-offs are read together.

Currents are per phase in amperes, energies in watt-hours.
"""

from __future__ import annotations

# --- Reading the measurements (rule 4: no waste) -------------------------------------------------

# A car allowed to charge (limit >= its minimum) that draws less than this on every phase is
# finished: it no longer competes for current. Meters show a few hundred mA of standby draw.
FINISHED_DRAW_A = 1.0

# A car drawing at least this much below its limit draws "clearly less" (battery nearly full,
# car capped at 10 A). Cars usually draw 0.2-0.8 A under their limit, so 1.5 A is not noise.
UNDERDRAW_A = 1.5

# Such a car is held at its draw plus this margin, never below its minimum. The margin is larger
# than UNDERDRAW_A so the held car stays "held" while steady (no flip-flop), and a car that wants
# more shows it by drawing up to the held limit, which releases it at the next solve.
HOLD_MARGIN_A = 2.0

# The engine reads which phases a car of unknown phase count uses from `measured` only when the
# car clearly charges (its busiest phase draws at least this) ...
PHASE_DETECT_MIN_DRAW_A = 4.0
# ... and a phase counts as unused only below this draw. Anything ambiguous keeps the car on all
# of its charger's phases, the safe assumption of the contract.
PHASE_UNUSED_BELOW_A = 1.0

# --- Calm (rule 5) ------------------------------------------------------------------------------

# A limit moves only if the new value differs by at least this much, unless the smaller change is
# needed to keep a fuse safe or to pause/resume the car. Building meters and car draws jitter by a
# few tenths of an ampere from one snapshot to the next.
HYSTERESIS_A = 1.0

# A charger switched down to 1 phase goes back to 3 phases only if 3 phases fit with this much to
# spare above the car's minimum: switching interrupts charging on many cars, so do it rarely.
PHASE_SWITCH_UP_MARGIN_A = 2.0

# --- Rotation of paused cars (rule 2) -----------------------------------------------------------

# Cars are ranked by the energy they received this session. A car that is charging now keeps its
# place until it is this many Wh ahead of a paused car; then they swap. Without the bonus two cars
# with similar energy would swap at every solve.
ROTATION_HYSTERESIS_WH = 1000.0

# --- Search effort (bounded by counts, never by the clock, so results are reproducible) ----------

# Moves (pause one car to admit several, or switch its phase mode) looked at per round, and
# tentatively applied per priority level. Small sites never reach these; a 3,000-charger depot
# does, and stays within its time budget.
MAX_MOVES_EXAMINED = 400
MAX_IMPROVEMENT_TRIALS = 100
# Paused cars offered the room of one move, smallest minimum first.
MAX_CANDIDATES_PER_TRIAL = 32
# Count-neutral swaps that let a better-ranked paused car replace a worse-ranked one.
MAX_SWAP_TRIALS = 200
# Water-filling passes; more than one only matters when a phase imbalance limit is set.
MAX_FILL_ROUNDS = 4
# Single tenths moved to even out what rounding to whole tenths left (small sites only).
MAX_LEVEL_OUT_MOVES = 50

# Sites with at most this many cars wanting current, where steps 1-4 of the admission leave a car
# paused, get an exact branch-and-bound search for more cars served (see `admission._exact`),
# within this many search nodes: a search that uses them all costs some 30-60 ms on a 40-car
# site; the small sites of the benchmark need a few hundred.
EXACT_SEARCH_MAX_CARS = 40
# Under an imbalance limit, priority levels of at most this many cars wanting current also try a
# greedy that spreads the cars over the phases (`admission._balanced_greedy`, quadratic: some
# 5 ms at 100 cars; a 3,000-charger depot's levels are far larger and skip it).
BALANCED_GREEDY_MAX_CARS = 100
EXACT_SEARCH_MAX_NODES = 10_000
# Sites with at most this many cars charging and an imbalance limit get the exact max-min fair
# split of `balancing.engine.leximin` (a few small linear programs: about 1.5 ms at 13 cars,
# up to some 20 ms at 32) instead of rounds of water-filling; up to this many cars charging,
# `fairness.level_out` evens out the tenths rounding left.
EXACT_FAIR_MAX_CARS = 32
