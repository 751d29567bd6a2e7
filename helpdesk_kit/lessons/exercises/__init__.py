"""The coding exercises of the lessons: one module per lesson, ``lessonNN.py``.

Each module has ``check(lesson, answer) -> CheckResult``: ``answer`` is what the learner wrote
in the notebook (usually a function), run here in a sandbox of the lesson's own keys. A wrong
answer gets a hint that points at the mistake, never the solution; ``...`` (not written yet)
gets "not answered yet". The solutions live apart, in ``notebooks/solutions/lessonNN.py``
(each defines ``answer``), and the test suite checks every one of them with its ``check``.
"""
