"""Benchmarks, run on demand (``make bench`` or ``python -m bench.bench_cache``).

Each one starts its own private redis-server, measures the kit against a baseline in the same
run (interleaved, medians) and prints ratios: absolute numbers drift +-50% on a shared 2-core
machine, ratios measured side by side hold. Speed is never asserted in the unit tests.
"""
