"""Experiments the lessons run: network profiles, the with-vs-without comparison, load tests,
the hit-rate simulator and the eviction lab. Each module is one experiment; import it by name.
"""
