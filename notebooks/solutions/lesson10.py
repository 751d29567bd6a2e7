"""Lesson 10 · Check yourself: WAIT covered the push when every connected replica has it."""


def answer(acknowledged: int, connected: int) -> bool:
    return connected >= 1 and acknowledged >= connected
