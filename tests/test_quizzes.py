"""The "check yourself" answers of lessons 00-04 and 06-08 are what the kit and Redis really do.

A quiz's answer lives in the package (``exercises/lessonNN.py``), never in a cell; these tests
hold each answer to the behaviour it explains, on a real redis-server and on fakeredis.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import redis
from conftest import until

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.keys import KeySchema
from helpdesk_kit.lessons import Lesson, capture_logs, counting_client, lesson_prefix
from helpdesk_kit.lessons.checks import Quiz
from helpdesk_kit.lessons.exercises import lesson00, lesson01, lesson02, lesson03, lesson04
from helpdesk_kit.widgets.invalidation import stale_read_race
from helpdesk_kit.widgets.warming import recent_first_reads


def test_every_quiz_waits_for_an_answer_and_hides_its_reason() -> None:
    quizzes = [lesson00.check_quiz, lesson01.check_quiz, lesson01.check_quiz_2,
               lesson02.check_quiz, lesson03.check_quiz, lesson04.check_quiz,
               lesson04.check_quiz_2]
    for quiz in quizzes:
        assert isinstance(quiz, Quiz)
        assert quiz(...).ok is None
        assert quiz(quiz.expected).ok is True
        wrong = quiz("z" if isinstance(quiz.expected, str) else -1)
        assert wrong.ok is False and quiz.why not in wrong.message  # explained once answered


def test_00_a_classmates_key_is_their_prefix_then_the_seeds_name() -> None:
    prefix = lesson_prefix("bob:", "00_start_here", "server")
    assert f"{prefix}ticket:7" == lesson00.check_quiz.expected


def test_01_the_hit_rate_of_the_quiz_reads(open_lesson: Callable[..., Lesson]) -> None:
    lesson = open_lesson("01_cache_aside", users=20, tickets=50)
    app = lesson.make_app()
    with capture_logs():
        for ticket_id in lesson01.QUIZ_READS:
            app.get_ticket(ticket_id)
    assert app.cache.total_stats().hit_rate == lesson01.check_quiz.expected  # type: ignore[union-attr]


def test_02_a_read_does_not_move_the_expiry(open_lesson: Callable[..., Lesson]) -> None:
    lesson = open_lesson("02_keys_ttl_serialisation", users=20, tickets=50)
    key = lesson.keys.ticket(1)
    lesson.client.set(key, "{}", ex=lesson02.check_quiz.expected)
    before = lesson.client.pttl(key)
    lesson.client.get(key)
    assert lesson.client.pttl(key) <= before


def test_03_the_guard_compares_the_generation(open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.cache import Cache

    lesson = open_lesson("03_invalidation", users=20, tickets=50)
    generation = lesson.keys.generation("ticket", 13)
    _, served = stale_read_race(lesson.store, Cache(lesson.client, lesson.keys), 13,
                                new_status="closed")
    assert served == "closed" and lesson.client.get(generation) == "1"
    assert lesson03.check_quiz.expected == "c"


def test_04_a_cold_start_hits_on_repeats_and_pipelines_count_one_trip_each(
        open_lesson: Callable[..., Lesson]) -> None:
    lesson = open_lesson("04_cache_warming", users=20, tickets=300)
    reads = recent_first_reads(lesson, 100)
    app = lesson.make_app()
    with capture_logs():
        for ticket_id in reads:
            app.get_ticket(ticket_id)
    hits = app.cache.total_stats().hits  # type: ignore[union-attr]
    assert hits == len(reads) - len(set(reads)) > 0  # only repeats hit: quiz answer b
    assert lesson04.check_quiz.expected == "b"
    counted, trips = counting_client(lesson.client)
    for start in range(0, 2000, 500):
        pipe = counted.pipeline(transaction=False)
        for user_id in range(start, start + 500):
            pipe.set(lesson.keys.user(user_id), "{}", ex=300)
        pipe.execute()
    counted.close()
    assert trips.count == lesson04.check_quiz_2.expected


# --- lessons 06-08: the queue and the monitor ------------------------------------------------
def test_06_07_08_quizzes_wait_for_an_answer_and_hide_their_reason() -> None:
    from helpdesk_kit.lessons.exercises import lesson06, lesson07, lesson08

    for quiz in (lesson06.check_quiz, lesson06.check_quiz_2, lesson07.check_quiz,
                 lesson07.check_quiz_2, lesson08.check_quiz, lesson08.check_quiz_2):
        assert isinstance(quiz, Quiz)
        assert quiz(...).ok is None and quiz(quiz.expected).ok is True
        wrong = quiz("z" if isinstance(quiz.expected, str) else -1)
        assert wrong.ok is False and quiz.why not in wrong.message


def test_06_the_client_that_waited_longest_gets_the_task(redis_server: RedisServer) -> None:
    from helpdesk_kit.lessons.exercises import lesson06

    key = f"quiz06:{uuid.uuid4().hex}"
    watcher = redis_server.client()
    got: dict[str, object] = {}

    def wait(name: str) -> None:
        with redis_server.client() as own:
            got[name] = own.blpop([key], timeout=1)

    first = threading.Thread(target=wait, args=("A",))
    first.start()
    until(lambda: watcher.info("clients")["blocked_clients"] == 1, what="A blocks")
    second = threading.Thread(target=wait, args=("B",))
    second.start()
    until(lambda: watcher.info("clients")["blocked_clients"] == 2, what="B blocks")
    watcher.rpush(key, "task")
    first.join(5)
    second.join(5)
    watcher.close()
    assert got == {"A": (key, "task"), "B": None}  # B's BLPOP ran out: nil
    assert lesson06.check_quiz.expected == "a"


def test_06_rpush_with_rpop_is_a_stack(redis_client: redis.Redis, keys: KeySchema) -> None:
    from helpdesk_kit.lessons.exercises import lesson06

    for ticket in (5, 6, 7):
        redis_client.rpush(keys.tasks_pending, ticket)
    taken = [redis_client.rpop(keys.tasks_pending) for _ in range(3)]
    assert ", ".join(taken) == lesson06.check_quiz_2.giveaways[0]
    assert lesson06.check_quiz_2.expected == "c"


def test_07_a_batch_killed_in_its_last_task_runs_its_done_tasks_again(
        open_lesson: Callable[..., Lesson]) -> None:
    from helpdesk_kit.app import TaskContext, helpdesk_queue
    from helpdesk_kit.lessons.exercises import lesson07
    from helpdesk_kit.widgets.crash import crash_and_recover

    lesson = open_lesson("07_reliable_queue", users=20, tickets=50)
    context = TaskContext(lesson.store, None, lesson.client, lesson.keys)
    batch = lesson07.QUIZ_BATCH
    with capture_logs():
        report = crash_and_recover(helpdesk_queue(lesson.client, lesson.keys), context,
                                   mode="reliable", tasks=batch, batch=batch, crash_at=batch,
                                   heartbeat_ttl_s=0.05)
    assert report.lost == 0 and report.recovered == batch
    assert report.handler_runs == lesson07.check_quiz.expected


def test_07_lrem_with_a_count_of_0_removes_every_copy(redis_client: redis.Redis,
                                                     keys: KeySchema) -> None:
    from helpdesk_kit.lessons.exercises import lesson07

    held = keys.tasks_processing("w1")
    redis_client.rpush(held, "task", "task")
    assert redis_client.lrem(held, 0, "task") == 2 and not redis_client.exists(held)
    assert lesson07.check_quiz_2.expected == "b"


def test_08_the_keyspace_line_and_the_monitors_own_reads() -> None:
    from helpdesk_kit.lessons.exercises import lesson08

    fields = dict(part.split("=") for part in lesson08.QUIZ_LINE.split(":")[1].split(","))
    assert (int(fields["keys"]) - int(fields["expires"]),
            int(fields["avg_ttl"]) // 1000) == lesson08.check_quiz.expected
    with RedisServer() as server, server.client() as client:  # nobody else reads here
        for n in range(lesson08.QUIZ_POLL_KEYS):
            client.set(f"ticket:{n}", "{}", ex=300)
        for _ in range(3):  # the dashboard polls; nobody reads the cache
            for n in range(lesson08.QUIZ_POLL_KEYS):
                client.pttl(f"ticket:{n}")
            client.llen("tasks:pending")
            client.dbsize()
            stats = client.info("stats")
    rate = stats["keyspace_hits"] / (stats["keyspace_hits"] + stats["keyspace_misses"])
    assert f"{rate:.0%}" == lesson08.check_quiz_2.giveaways[0]
    assert lesson08.check_quiz_2.expected == "b"
