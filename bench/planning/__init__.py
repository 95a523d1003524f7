"""Capacity planning benchmark (python -m bench.planning)."""
