"""Experiments the lessons run: network profiles, the with-vs-without comparison, load tests,
the hit-rate simulator, the eviction lab, crash drills under each persistence (``persistence``),
staged incidents (``incidents``) and a first look at a Redis in trouble (``triage``). Each
module is one experiment; import it by name.
"""
