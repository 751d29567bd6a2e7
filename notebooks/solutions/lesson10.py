"""Lesson 10 · Check yourself: a push survives a failover when every connected replica has it."""


def answer(acknowledged: int, connected: int) -> bool:
    return connected >= 1 and acknowledged >= connected
