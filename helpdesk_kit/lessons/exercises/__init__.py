"""The coding exercises and quizzes of the lessons: one module per lesson, ``lessonNN.py``.

Each module has the lesson's ``check`` and its quizzes (``check_quiz``, ``check_quiz_2``:
:class:`~helpdesk_kit.lessons.checks.Quiz` objects, whose answers never appear in a cell).
Two kinds of ``check``:

* ``check(lesson, *functions)`` for a lesson whose exercise is a **piece of the learner's
  helpdesk** (01, 03, 04...): it runs the lesson's conformance check
  (:mod:`helpdesk_kit.lessons.conformance`) on the functions and keeps them in
  ``my_helpdesk.py`` when they pass (:func:`helpdesk_kit.lessons.helpdesk.check_pieces`);
* ``check(lesson, answer)`` for a standalone exercise (00, 02...): ``answer`` is run in a
  sandbox of the lesson's own keys.

A wrong answer gets a hint that points at the mistake, never the solution; ``...`` (not
written yet) gets "not answered yet". The solutions live apart, in
``notebooks/solutions/lessonNN.py`` (the pieces by name, or ``answer``), and the test suite
checks every one of them (tests/test_solutions.py, tests/test_conformance.py).
"""
