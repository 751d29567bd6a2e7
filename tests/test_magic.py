"""The ``%%redis`` magic: its parser (fuzzed), its key prefixing, and its output, which must be
redis-cli's own (compared with the real redis-cli on a real server) on both backends."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_kit.backends import Backend, RedisServer
from helpdesk_kit.lessons import magic
from helpdesk_kit.lessons.magic import CliSession, ParseError, parse_cell, parse_line, render
from helpdesk_kit.lessons.magic.keyspec_table import KEY_SPECS
from helpdesk_kit.lessons.magic.keyspecs import KeySpec, KeySpecs, key_positions, specs_from_info
from helpdesk_kit.lessons.magic.reply import ErrorReply, Status, format_reply


# --- the parser: redis-cli's rules -----------------------------------------------------------
@pytest.mark.parametrize(("line", "args"), [
    ("GET user:7", [b"GET", b"user:7"]),
    ("  SET   k\tv  ", [b"SET", b"k", b"v"]),
    ('SET k "two words"', [b"SET", b"k", b"two words"]),
    ('SET k "a\\"b\\\\c\\n"', [b"SET", b"k", b'a"b\\c\n']),
    ('SET k "\\xff\\x00"', [b"SET", b"k", b"\xff\x00"]),
    ('SET k "\\xZZ"', [b"SET", b"k", b"xZZ"]),  # not hex: the backslash only escapes the x
    ("SET k 'it\\'s'", [b"SET", b"k", b"it's"]),
    ("SET k 'a\\nb'", [b"SET", b"k", b"a\\nb"]),  # single quotes: no escapes but \'
    ("SET k a\\nb", [b"SET", b"k", b"a\\nb"]),  # bare: backslashes as typed
    ('SET k a"b c"', [b"SET", b"k", b"ab c"]),  # a quote inside a word starts quoting
    ('SET k ""', [b"SET", b"k", b""]),
    ("SET k Martín", [b"SET", b"k", "Martín".encode()]),
    ("", []),
])
def test_a_line_is_read_as_redis_cli_reads_it(line: str, args: list[bytes]) -> None:
    assert parse_line(line) == args


@pytest.mark.parametrize("line", ['SET k "open', "SET k 'open", 'SET k "a"b', "SET k 'a'b",
                                  'GET "k\\"', "GET k\0"])
def test_lines_redis_cli_refuses_are_refused(line: str) -> None:
    with pytest.raises(ParseError):
        parse_line(line)


def test_a_cell_skips_comments_and_blank_lines_and_names_a_bad_line() -> None:
    commands = parse_cell("# warm up\n\nPING\n  # indented comment\r\nGET k\r\n")
    assert [(c.line, c.args) for c in commands] == [(3, (b"PING",)), (5, (b"GET", b"k"))]
    with pytest.raises(ParseError, match="line 2"):
        parse_cell('PING\nSET k "unclosed\nGET k')


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_any_text_parses_or_is_refused_with_a_parse_error(text: str) -> None:
    try:
        commands = parse_cell(text)
    except ParseError:
        return
    for command in commands:
        assert command.args and all(isinstance(arg, bytes) for arg in command.args)


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=6))
@settings(max_examples=400, deadline=None)
def test_any_bytes_render_to_a_line_that_reads_back_the_same(args: list[bytes]) -> None:
    line = render(args)
    assert "\n" not in line and "\r" not in line
    assert parse_line(line) == args


def test_undecodable_input_is_sent_as_its_bytes_or_refused() -> None:
    assert parse_line("SET k \udcff") == [b"SET", b"k", b"\xff"]  # surrogateescape'd byte
    with pytest.raises(ParseError, match="U\\+D800"):
        parse_line("SET k \ud800")


def test_a_huge_line_parses() -> None:
    value = "x" * 1_000_000
    assert parse_line(f'SET k "{value}"') == [b"SET", b"k", value.encode()]


# --- which arguments are keys --------------------------------------------------------------
def _table(name: str) -> tuple[KeySpec, ...]:
    return tuple(KeySpec(begin, find) for begin, find in KEY_SPECS[name])


def _args(line: str) -> list[bytes]:
    return parse_line(line)


@pytest.mark.parametrize(("line", "positions"), [
    ("SET a a", [1]),                                   # a value that looks like the key
    ("MSET a b b c", [1, 3]),                           # every other argument
    ("EVAL script 2 k1 k2 argv", [3, 4]),               # a count, then the keys
    ("EVAL script 1 1 1", [3]),                         # the count equals the key's name
    ("EVAL script 0 a", []),
    ("EVAL script x a", []),                            # not a count: the server will say
    ("XREAD COUNT 2 STREAMS s1 s2 0 0", [4, 5]),        # after a keyword, half the rest
    ("GEORADIUS g 0 0 1 km STORE dst", [1, 7]),
    ("LMOVE src dst LEFT RIGHT", [1, 2]),
    ("OBJECT ENCODING k", [2]),
    ("BLPOP a b 0", [1, 2]),
])
def test_key_positions_follow_the_key_specs(line: str, positions: list[int]) -> None:
    args = _args(line)
    name = args[0].decode().lower()
    name = f"{name}|{args[1].decode().lower()}" if name == "object" else name
    assert key_positions(args, _table(name)) == positions


@given(st.sampled_from(sorted(KEY_SPECS)), st.lists(st.binary(max_size=6), max_size=8))
@settings(max_examples=400, deadline=None)
def test_key_positions_never_fail_and_stay_inside_the_command(name: str,
                                                             rest: list[bytes]) -> None:
    args = [name.split("|")[0].encode(), *rest]
    positions = key_positions(args, _table(name))
    assert all(1 <= i < len(args) for i in positions)


def test_the_stored_table_is_what_redis_server_says(redis_server: RedisServer) -> None:
    client = redis_server.client()
    connection = client.connection_pool.get_connection()
    try:
        connection.send_command("COMMAND")
        entries = connection.read_response(disable_decoding=True)
    finally:
        client.connection_pool.release(connection)
        client.close()
    live: dict[str, tuple[KeySpec, ...]] = {}
    for entry in entries:
        live.update(specs_from_info(entry))
    assert {name: _table(name) for name in KEY_SPECS} == live, \
        "the server changed: run scripts/redis-key-specs"


def test_a_command_with_keys_nobody_can_place_is_not_sent() -> None:
    """A server that knows a command (it has keys) but gives no specs, and no table entry."""
    entry = [b"newcmd", -2, [b"write"], 1, 1, 1, [], [], [], []]
    specs = KeySpecs(lambda name: entry if name == "newcmd" else None)
    assert specs.lookup([b"NEWCMD", b"k"]) is None
    assert specs.lookup([b"PING"]) == ()  # unknown to this server: nothing to prefix


# --- replies, as redis-cli prints them ------------------------------------------------------
def test_reply_formats() -> None:
    assert format_reply(Status(b"OK")) == "OK\n"
    assert format_reply(b"OK") == '"OK"\n'
    assert format_reply(ErrorReply("WRONGTYPE x")) == "(error) WRONGTYPE x\n"
    assert format_reply(3) == "(integer) 3\n"
    assert format_reply(None) == "(nil)\n"
    assert format_reply([]) == "(empty array)\n"
    assert format_reply([b"a", [1, b"\xff"]]) == '1) "a"\n2) 1) (integer) 1\n   2) "\\xff"\n'
    ten = format_reply([b"x"] * 10).splitlines()
    assert ten[0] == ' 1) "x"' and ten[-1] == '10) "x"'


# --- a session on both backends -------------------------------------------------------------
SCRIPT = r"""
# every reply type, nested arrays, a transaction, Lua
SET user:7 "{\"name\": \"Noa Martín\"}" EX 300
GET user:7
TTL user:7
TYPE user:7
GET nobody
MSET a 1 b "two words"
MGET a b c
RPUSH l a b c d e f g h i j k
LRANGE l 0 -1
LRANGE nolist 0 -1
HSET h f1 v1
HGETALL h
INCR a
INCR user:7
MULTI
SET q OK
GET q
EXEC
ZADD z 1 a 2 b
ZRANGE z 0 -1 WITHSCORES
EVAL "return {1, {2, 'x'}, redis.call('GET', KEYS[1])}" 1 q
PING
PING hi
XADD s 1-1 f v
XRANGE s - +
SET k v GET
DEL user:7 a b l h q z s k
"""


def _replies(text: str) -> list[str]:
    """A session's output without its echo lines: what redis-cli prints."""
    return [line for line in text.splitlines() if not line.startswith("redis> ")]


def _run(client: redis.Redis, prefix: str, script: str) -> tuple[list[str], CliSession]:
    lines: list[str] = []
    session = CliSession(client, prefix)
    session.run(script, write=lines.append)
    return "\n".join(lines).splitlines(), session


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_the_output_is_redis_clis_own(redis_server: RedisServer, key_prefix: str) -> None:
    client = redis_server.client()
    lines, session = _run(client, key_prefix, SCRIPT)
    session.close()
    sent = "\n".join(line.removeprefix("redis> ") for line in lines
                     if line.startswith("redis> ")) + "\n"
    cli = subprocess.run(["redis-cli", "-s", str(redis_server.socket), "--no-raw"],
                         input=sent.encode(), capture_output=True, check=True)
    assert _replies("\n".join(lines)) == cli.stdout.decode().splitlines()
    client.close()


def test_fakeredis_prints_what_a_real_server_prints(redis_server: RedisServer,
                                                  key_prefix: str) -> None:
    import fakeredis

    real = redis_server.client()
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    on_server, _ = _run(real, key_prefix, SCRIPT)
    on_fake, _ = _run(fake, key_prefix, SCRIPT)
    assert on_fake == on_server
    real.close()


def test_keys_get_the_prefix_and_listings_show_only_the_lessons(backend: Backend,
                                                              key_prefix: str) -> None:
    client = backend.client
    client.set("outside", "not the lesson's")
    lines, session = _run(client, key_prefix, "SET k1 v\nKEYS *\nSCAN 0 COUNT 100\nSCAN 0 MATCH k*")
    assert lines[0] == f"redis> SET {key_prefix}k1 v"
    assert client.get(f"{key_prefix}k1") == "v"
    assert lines[2] == f"redis> KEYS {key_prefix}*" and lines[3] == f'1) "{key_prefix}k1"'
    assert lines[4] == f"redis> SCAN 0 COUNT 100 MATCH {key_prefix}*"
    assert f"redis> SCAN 0 MATCH {key_prefix}k*" in lines
    assert "outside" not in "\n".join(lines)
    session.close()
    client.delete("outside")


def test_commands_that_never_answer_in_a_cell_are_refused(backend: Backend,
                                                          key_prefix: str) -> None:
    lines, session = _run(backend.client, key_prefix, "SUBSCRIBE news\nPING")
    assert lines[1].startswith("(error) SUBSCRIBE is not run here") and "pubsub" in lines[1]
    assert lines[-1] == "PONG"  # the next line still runs
    session.close()


def test_a_parse_error_sends_nothing(backend: Backend, key_prefix: str) -> None:
    with pytest.raises(ParseError):
        _run(backend.client, key_prefix, 'SET k1 v\nSET k2 "open')
    assert backend.client.exists(f"{key_prefix}k1") == 0


def test_a_transaction_spans_cells_as_in_a_redis_cli_session(backend: Backend,
                                                             key_prefix: str) -> None:
    session = CliSession(backend.client, key_prefix)
    out: list[str] = []
    session.run("MULTI\nINCR n", write=out.append)
    session.run("INCR n\nEXEC", write=out.append)
    assert out[-1] == "1) (integer) 1\n2) (integer) 2"
    session.close()


def test_the_magic_in_ipython(backend: Backend, key_prefix: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    shell: Any = InteractiveShell.instance()
    magic.load_ipython_extension(shell)
    previous = magic.current()
    if previous is not None:  # another test's session: the magic starts with none
        magic.forget(previous.client)
    with pytest.raises(UsageError, match="setup"):
        shell.run_cell_magic("redis", "", "PING")
    magic.use(backend.client, key_prefix)
    shell.run_cell_magic("redis", "", "SET greeting hello\nGET greeting")
    assert capsys.readouterr().out.splitlines()[-1] == '"hello"'
    with pytest.raises(UsageError, match="nothing was sent"):
        shell.run_cell_magic("redis", "", 'SET k "open')
    magic.forget(backend.client)
    assert magic.current() is None
