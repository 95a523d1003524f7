"""Charge modes (issue #15): how each car wants its current over time, as inputs of balancing.

A charger has a default mode (``ChargerMode``: now, by departure, scheduled, surplus) and a
session may override it (``SessionPlan``: a driver's departure time and energy need). The
installation's allowed charging hours (``ChargingWindow``), its surplus settings and live surplus
reading are the rest of the inputs. ``modes.inputs`` turns them, for one installation at one
moment, into a cap and a priority per car that ``balancing.snapshot.build_scenario`` folds into
the snapshot; the engine stays the authority (docs/balancing.md "Charge modes", docs/modes.md).
"""
