"""Benchmark of the balancing engine: `python -m bench.balancing` prints the figures of
docs/benchmarks.md."""
