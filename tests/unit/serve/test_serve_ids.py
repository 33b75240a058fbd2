"""Prediction ids: RFC 9562 UUIDv7, time-ordered, unique across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest

from conveyor.core import InvalidValueError
from conveyor.serve.runtime import new_prediction_ids, prediction_time_ms


def test_ids_are_uuid7_with_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    ids = new_prediction_ids(3)
    after = time.time_ns() // 1_000_000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        # The id's time is the clock's, or one millisecond past it per full counter.
        assert before <= prediction_time_ms(text) <= after + 1


def test_ids_increase_in_the_order_they_are_made() -> None:
    ids = [i for _ in range(50) for i in new_prediction_ids(100)]
    ids += new_prediction_ids(10_000)  # more than one millisecond's counter
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    times = [prediction_time_ms(i) for i in ids]
    assert times == sorted(times)


def test_zero_ids_and_a_negative_count() -> None:
    assert new_prediction_ids(0) == []
    with pytest.raises(InvalidValueError, match="0 or more"):
        new_prediction_ids(-1)


def test_ids_are_unique_across_threads() -> None:
    out: list[list[str]] = [[] for _ in range(8)]

    def work(k: int) -> None:
        for _ in range(500):
            out[k] += new_prediction_ids(3)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in out for i in ids]
    assert len(set(every)) == len(every) == 8 * 500 * 3
    for ids in out:  # each thread's ids still increase
        assert ids == sorted(ids)


def test_ids_are_unique_across_processes() -> None:
    code = (
        "from conveyor.serve.runtime import new_prediction_ids as f\n"
        "print('\\n'.join(i for _ in range(200) for i in f(10)))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(len(o) == 2000 for o in outs)
    assert len(set(outs[0]) | set(outs[1])) == 4000


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-an-id",
        str(uuid.uuid4()),
        str(uuid.uuid4()).upper(),
        "0192b3c4-5d6e-7f80-1a1b-2c3d4e5f6a7b",  # wrong variant
        "0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b\n",
        42,
        None,
    ],
)
def test_anything_else_is_refused_with_the_shape_of_an_id(bad: object) -> None:
    with pytest.raises(InvalidValueError, match="must be a UUIDv7") as info:
        prediction_time_ms(bad)  # type: ignore[arg-type]
    assert "0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b" in str(info.value)


def test_the_time_is_read_back() -> None:
    assert prediction_time_ms("0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b") == 0x0192B3C45D6E
