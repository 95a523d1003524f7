"""Load and phase balancing: the Django app around the pure engine.

`balancing.engine` is the engine (no Django, no I/O): `balancing.engine.solve(scenario) ->
allocation` and ``python -m balancing`` speak the JSON of docs/BALANCING.md. The rest of this
package is the app that feeds it: `service` (snapshot from the database, allocation to chargers),
`tasks` and `triggers` (when to run), `dashboard` and `views` (the Load tab), `models`.
"""
