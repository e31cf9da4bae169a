"""Benchmarks (make bench) and the fault suite (make chaos)."""
