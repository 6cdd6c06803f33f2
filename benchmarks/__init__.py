"""Benchmark harness (`make bench`) and its corpus generator."""
