"""The bounded scans under CloudWatch Logs' reads, on files like the ones functions write:
every call makes progress however small its byte budget, pages neither repeat nor skip a
record across a rotation, and a time seek lands before the first record it asks for.
Plus the filter patterns, as predicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from fireside.aws.errors import ServiceError
from fireside.logs.events_api import _seek_time
from fireside.logs.files import GroupFiles, Position, Record, escape, scan_backward, scan_forward
from fireside.logs.index import StreamIndex
from fireside.logs.patterns import compile_pattern


def write_records(path: Path, start: int, count: int) -> list[tuple[int, str, str]]:
    written = []
    with open(path, "ab") as handle:
        for index in range(start, start + count):
            stamp, stream, line = 1_000_000 + index * 10, f"stream-{index % 3}", f"line {index}"
            handle.write(f"{stamp}\t{stream}\t{line}\n".encode())
            written.append((stamp, stream, line))
    return written


@pytest.fixture()
def files(tmp_path: Path) -> tuple[GroupFiles, list[tuple[int, str, str]]]:
    path = tmp_path / "fn.log"
    older = write_records(path.with_suffix(".log.1"), 0, 500)
    newer = write_records(path, 500, 500)
    with open(path, "ab") as handle:
        handle.write(b"1999999\tstream-0\tstill being writ")  # no newline yet
    return GroupFiles(path, escaped=False), older + newer


def every(record: Record) -> bool:
    return True


def test_forward_scans_progress_on_any_budget(
    files: tuple[GroupFiles, list[tuple[int, str, str]]],
) -> None:
    group, written = files
    seen: list[tuple[int, str, str]] = []
    position: Position | None = None
    calls = 0
    while True:
        scan = scan_forward(group, position, every, limit=10_000, budget=700)
        calls += 1
        assert scan.scanned > 0 or scan.finished
        seen += [(r.timestamp, r.stream, r.message) for r in scan.records]
        if scan.finished:
            break
        assert scan.position != position
        position = scan.position
    assert seen == written
    assert calls > 20  # the budget, not the file, bounded each call
    again = scan_forward(group, scan.position, every, limit=10)
    assert again.records == [] and again.finished and again.position == scan.position


def test_backward_scans_return_everything_newest_first(
    files: tuple[GroupFiles, list[tuple[int, str, str]]],
) -> None:
    group, written = files
    seen: list[tuple[int, str, str]] = []
    position: Position | None = None
    while True:
        scan = scan_backward(group, position, every, limit=37, budget=5000)
        seen += [(r.timestamp, r.stream, r.message) for r in scan.records]
        if scan.finished:
            break
        position = scan.position
    assert seen == list(reversed(written))


def test_a_filter_matching_nothing_still_moves_on(
    files: tuple[GroupFiles, list[tuple[int, str, str]]],
) -> None:
    group, _ = files
    scan = scan_forward(group, None, lambda record: False, limit=10, budget=1000)
    assert scan.records == [] and not scan.finished and scan.position.offset > 0


def test_time_seek_lands_before_the_first_record_asked_for(
    files: tuple[GroupFiles, list[tuple[int, str, str]]],
) -> None:
    group, written = files
    for wanted in (written[0][0], written[250][0], written[700][0] + 5, written[-1][0] + 10_000):
        at = _seek_time(group, wanted)
        scan = scan_forward(group, at, lambda r, w=wanted: r.timestamp >= w, limit=10_000)  # type: ignore[misc]
        assert [r.timestamp for r in scan.records] == [s for s, _, _ in written if s >= wanted]


def test_the_stream_index_catches_up_over_several_calls(
    files: tuple[GroupFiles, list[tuple[int, str, str]]],
) -> None:
    group, written = files
    index = StreamIndex(group)
    calls = 1
    while not index.refresh(budget=2000):
        calls += 1
    assert calls > 5
    streams = index.streams()
    assert sorted(streams) == ["stream-0", "stream-1", "stream-2"]
    zero = [s for s, name, _ in written if name == "stream-0"]
    assert (streams["stream-0"].first_timestamp, streams["stream-0"].last_timestamp) == (
        zero[0],
        zero[-1],
    )
    write_records(group.path, 2000, 3)  # after the partial line: it is completed first
    assert index.refresh()


def test_user_files_keep_newlines_tabs_and_backslashes(tmp_path: Path) -> None:
    group = GroupFiles(tmp_path / "g.log", escaped=True)
    message = "a\nb\tc\\n d"
    stream = escape("s\t1")
    group.path.write_bytes(f"5,6\t{stream}\t{escape(message)}\n".encode())
    (record,) = scan_forward(group, None, every, limit=5).records
    assert (record.timestamp, record.ingestion, record.stream, record.message) == (
        5,
        6,
        "s\t1",
        message,
    )


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("ERROR", "an ERROR here", True),
        ("ERROR", "an error here", False),
        ("ERROR timeout", "ERROR: db timeout", True),
        ("ERROR timeout", "ERROR: db down", False),
        ('"db down"', "ERROR: db down", True),
        ("?WARN ?ERROR", "WARN x", True),
        ("?WARN ?ERROR", "INFO x", False),
        ("ERROR -retry", "ERROR retry 1", False),
        ('ERROR -"retry 2"', "ERROR retry 1", True),
        ("%ERR(OR)?%", "ERR x", True),
        ('{ $.level = "ERROR" }', '{"level": "ERROR"}', True),
        ('{ $.level = "ERR*" }', '{"level": "ERROR"}', True),
        ('{ $.level != "ERROR" }', '{"level": "ERROR"}', False),
        ("{ $.latency > 100 && $.status = 500 }", '{"latency": 150, "status": 500}', True),
        ("{ $.latency > 100 && $.status = 500 }", '{"latency": 50, "status": 500}', False),
        ('{ ($.a = 1 || $.b = "x") && $.c IS TRUE }', '{"b": "x", "c": true}', True),
        ("{ $.items[1].id = 7 }", '{"items": [{"id": 1}, {"id": 7}]}', True),
        ("{ $.missing NOT EXISTS }", "{}", True),
        ('{ $.level = "ERROR" }', "not json ERROR", False),
        ("", "anything", True),
        ("[ip, user, status = 4*, size > 1000]", "1.2.3.4 bob 404 2048", True),
        ("[ip, user, status = 4*, size > 1000]", "1.2.3.4 bob 200 2048", False),
        ("[ip, user, status = 4*, size > 1000]", "1.2.3.4 bob 404", False),
        ("[ip, ..., size > 1000]", '1.2.3.4 - [07/Dec/2026:10:00] "GET / HTTP/1.1" 200 5000', True),
        ('[ip, ..., request = "GET *", status, size]', '1.2.3.4 "GET / HTTP/1.1" 200 5', True),
        ("[..., status != 200, size]", "a b 200 5", False),
    ],
)
def test_filter_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize(
    "pattern", ["{ $.a = }", "{ level = 1 }", "[ip, 1user]", '{ $.a > "x" }', "[a > x]"]
)
def test_bad_filter_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ServiceError) as caught:
        compile_pattern(pattern)
    assert caught.value.code == "InvalidParameterException"
