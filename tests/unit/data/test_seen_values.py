"""SeenValues: which values of a batch repeat an earlier batch's, checked against a plain set."""

from __future__ import annotations

import datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.data._seen import SeenValues


def expected_repeats(batches: list[list[object]]) -> list[list[int]]:
    """Per batch, the first position of each value that an earlier batch had."""
    seen: set[object] = set()
    found = []
    for batch in batches:
        firsts: dict[object, int] = {}
        for position, value in enumerate(batch):
            if value is not None:
                firsts.setdefault(value, position)
        found.append(sorted(p for v, p in firsts.items() if v in seen))
        seen |= set(firsts)
    return found


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.none(), st.integers(-20, 20)), max_size=12), max_size=25),
    st.booleans(),
)
def test_repeats_of_earlier_batches_match_a_set(
    batches: list[list[int | None]], text: bool
) -> None:
    values: list[list[object]] = [
        [None if v is None else (f"v{v}" if text else v) for v in batch] for batch in batches
    ]
    seen = SeenValues()
    kind = pa.string() if text else pa.int64()
    found = [seen.add(pa.array(batch, kind)).tolist() for batch in values]
    assert found == expected_repeats(values)
    assert seen.n_values == len({v for batch in values for v in batch if v is not None})


def test_many_batches_stay_in_few_runs() -> None:
    seen = SeenValues()
    for start in range(0, 1024 * 10, 10):
        assert len(seen.add(pa.array(range(start, start + 10)))) == 0
    assert seen.n_values == 10240
    assert len(seen._runs) <= 12  # runs merge: about log2(1024) of them, not 1024
    assert seen.add(pa.array([5, 10239, 10240])).tolist() == [0, 1]


def test_dates_and_an_all_null_batch() -> None:
    seen = SeenValues()
    day = datetime.date(2024, 1, 1)
    assert seen.add(pa.array([day, None])).tolist() == []
    assert seen.add(pa.array([None, None], pa.date32())).tolist() == []
    assert seen.add(pa.array([None, day])).tolist() == [1]
