"""Rule 2: which cars charge (at least their minimum) and which are paused.

Priorities are handled one level at a time, highest first, each level seeing only the cars above
it: a car is paused only if it could not charge even with every lower-priority car paused.
Priority is strict: the count of cars served is maximised level by level, lexicographically.
Within a level the goal is to pause the fewest cars, which is a multi-dimensional knapsack (three
phases times every fuse on the way up), so the level is solved in four bounded steps:

1. **Greedy by rank** (least energy received first, see `balancing.engine.demand`): admit each car at
   its minimum if it fits.
2. **Greedy by size** (what the car takes from oversubscribed constraints): the classic
   count-maximising order for knapsacks. Kept only if it admits more cars than step 1. Under
   an imbalance limit also a greedy that spreads the cars over the phases (`balanced_greedy`),
   kept only if it admits more than both.
3. **Improvement**: pause one admitted car and admit two or more paused cars in its place, e.g.
   one 3-phase car out, three 1-phase cars on three different phases in; or switch one car's
   phase mode (under an imbalance limit 3 phases can leave more room than 1) and admit one or
   more. Candidates are limited to paused cars blocked only by constraints that the move frees
   and whose minimum fits in what it frees; the search is bounded by counts, never by the clock
   (`tuning.MAX_MOVES_EXAMINED`, `MAX_IMPROVEMENT_TRIALS`, `MAX_CANDIDATES_PER_TRIAL`), so the
   result is reproducible.
4. **Swaps**: a paused car ranked better than an admitted one replaces it when it fits in its
   place, so that steps 2 and 3 do not undo the tie-breaks (energy, then arrival) of rule 2.
5. **Exact search**, on sites of at most `tuning.EXACT_SEARCH_MAX_CARS` cars wanting current
   where a car is still paused: branch and bound over all levels at once for strictly more cars
   served, lexicographically by priority (see `exact`). Steps 1-4 settle each level on its
   own, so they cannot see that the choice among equally many higher-priority cars decides how
   many lower-priority cars fit, nor moves deeper than one car; this step can, within
   `tuning.EXACT_SEARCH_MAX_NODES`.
6. **Priority lift**, on sites of at most `tuning.BALANCED_GREEDY_MAX_CARS` wanting cars with
   several priorities: a paused car takes a served lower-priority car's place wherever it
   then fits (`_lift_priority`), for sites the exact search does not settle.

Chargers that can switch phases are admitted on 1 phase, which takes the least room: the count
of cars comes first. Once every level is settled they go back to 3 phases, in rank order,
wherever that still fits with every admitted car at its minimum (with
`tuning.PHASE_SWITCH_UP_MARGIN_A` to spare for a charger that is on 1 phase now, so the mode
does not flap). Finished cars are not admitted here: see `admit_spare`.

The steps live in ``greedy`` (1, 2), ``improve`` (3, 4), ``exact`` (5) and ``levels`` (the
order of it all, 6 and the switch back to 3 phases).
"""

from balancing.engine.admission.levels import admit, admit_spare

__all__ = ["admit", "admit_spare"]
