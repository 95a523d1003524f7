"""OCPP load benchmark: `python -m bench.ocpp_load` (see __main__ and docs/benchmarks.md)."""
