"""Benchmarks: each prints its figures and the exact command that made them."""
