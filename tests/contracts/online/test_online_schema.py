"""A view's schema may change: a write under another schema replaces the view; a reader is
served while every feature it asks for is stored under the type it declares, and gets
``OnlineSchemaMismatchError`` otherwise, never a value of another type. ``delete_view``
leaves nothing behind."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pytest

from conveyor.features import OnlineSchema, OnlineSchemaMismatchError, OnlineStore
from support.online import SCALARS, OnlineBackend, at, redis_keys, scalar_rows, table, values_of

pytestmark = pytest.mark.integration

WIDER = OnlineSchema("scalars", ("origin",), (*SCALARS.features, ("seats", "int64")))
RETYPED = OnlineSchema(
    "scalars", ("origin",), (("n_flights", "string"), ("delay", "double"), ("carrier", "string"))
)
NARROWER = OnlineSchema("scalars", ("origin",), (("delay", "double"),))
REKEYED = OnlineSchema(
    "scalars", ("origin", "carrier"), (("n_flights", "int64"), ("delay", "double"))
)
REORDERED = OnlineSchema("scalars", ("origin",), tuple(reversed(SCALARS.features)))


def _wider_rows(origins: list[str], seats: int) -> pa.Table:
    n = len(origins)
    return table(
        {
            "origin": origins,
            "ts": [at(2)] * n,
            "n_flights": [seats] * n,
            "delay": [0.5] * n,
            "carrier": ["new"] * n,
            "seats": [seats] * n,
        }
    )


@pytest.fixture
def old_rows(online: OnlineStore) -> OnlineStore:
    online.write(SCALARS, scalar_rows(["JFK", "LGA"], [at(1), at(1)], [1, 2]), timestamp="ts")
    return online


def test_a_write_under_another_schema_replaces_the_view(old_rows: OnlineStore) -> None:
    assert old_rows.write(WIDER, _wider_rows(["JFK"], 180), timestamp="ts") == 1
    assert values_of(old_rows, WIDER, [("JFK",), ("LGA",)]) == [
        {"n_flights": 180, "delay": 0.5, "carrier": "new", "seats": 180},
        None,  # dropped with the old schema, until materialised again
    ]


def test_an_older_reader_is_served_the_features_it_knows(
    old_rows: OnlineStore, backend: OnlineBackend
) -> None:
    reader = backend.open()
    try:
        assert values_of(reader, SCALARS, [("JFK",)]) == [
            {"n_flights": 1, "delay": 0.25, "carrier": "c1"}
        ]
        old_rows.write(WIDER, _wider_rows(["JFK"], 180), timestamp="ts")  # another instance
        assert values_of(reader, SCALARS, [("JFK",), ("LGA",)]) == [
            {"n_flights": 180, "delay": 0.5, "carrier": "new"},
            None,
        ]
    finally:
        reader.close()


def test_a_retyped_feature_is_never_read_under_the_old_type(
    old_rows: OnlineStore, backend: OnlineBackend
) -> None:
    reader = backend.open()
    try:
        reader.read(SCALARS, [("JFK",)])  # the reader has resolved the old schema
        rows = scalar_rows(["JFK"], [at(2)], [9]).set_column(2, "n_flights", pa.array(["nine"]))
        old_rows.write(RETYPED, rows, timestamp="ts")
        with pytest.raises(OnlineSchemaMismatchError) as caught:
            reader.read(SCALARS, [("JFK",)])
        message = str(caught.value)
        assert (
            "'scalars'" in message and "'n_flights' is stored as string, asked as int64" in message
        )
        assert "Materialise the view again" in message
        assert caught.value.view == "scalars"
        # The features that kept their type are still served to the old reader.
        (row,) = reader.read(SCALARS, [("JFK",)], features=["delay", "carrier"])
        assert row is not None and row.values == {"delay": 2.25, "carrier": "c9"}
        assert values_of(reader, RETYPED, [("JFK",)]) == [
            {"n_flights": "nine", "delay": 2.25, "carrier": "c9"}
        ]
    finally:
        reader.close()


def test_a_removed_feature_is_an_error_for_a_reader_that_asks_for_it(old_rows: OnlineStore) -> None:
    old_rows.write(
        NARROWER, table({"origin": ["JFK"], "ts": [at(2)], "delay": [3.0]}), timestamp="ts"
    )
    with pytest.raises(OnlineSchemaMismatchError, match="'n_flights' is not stored"):
        old_rows.read(SCALARS, [("JFK",)])
    (row,) = old_rows.read(SCALARS, [("JFK",)], features=["delay"])
    assert row is not None and row.values == {"delay": 3.0}


def test_a_reader_ahead_of_materialisation_gets_an_error_for_new_features(
    old_rows: OnlineStore,
) -> None:
    with pytest.raises(OnlineSchemaMismatchError, match="'seats' is not stored"):
        old_rows.read(WIDER, [("JFK",)])
    (row,) = old_rows.read(WIDER, [("JFK",)], features=["n_flights"])
    assert row is not None and row.values == {"n_flights": 1}


def test_other_join_keys_are_an_error(old_rows: OnlineStore) -> None:
    with pytest.raises(OnlineSchemaMismatchError, match="join keys"):
        old_rows.read(REKEYED, [("JFK", "c1")], features=["delay"])


def test_reordered_features_are_read_by_name(old_rows: OnlineStore) -> None:
    old_rows.write(REORDERED, scalar_rows(["SFO"], [at(3)], [4]), timestamp="ts")
    assert values_of(old_rows, REORDERED, [("SFO",), ("JFK",)]) == [
        {"carrier": "c4", "delay": 1.0, "n_flights": 4},
        None,
    ]
    assert values_of(old_rows, SCALARS, [("SFO",)]) == [
        {"n_flights": 4, "delay": 1.0, "carrier": "c4"}
    ]


def test_switching_back_and_forth_keeps_only_the_last_schema_rows(old_rows: OnlineStore) -> None:
    old_rows.write(WIDER, _wider_rows(["SFO"], 100), timestamp="ts")
    old_rows.write(SCALARS, scalar_rows(["BOS"], [at(1)], [7]), timestamp="ts")
    got = values_of(old_rows, SCALARS, [("JFK",), ("SFO",), ("BOS",)])
    assert got == [None, None, {"n_flights": 7, "delay": 1.75, "carrier": "c7"}]


def test_a_switch_leaves_no_rows_of_the_old_schema_behind(
    old_rows: OnlineStore, backend: OnlineBackend
) -> None:
    old_rows.write(WIDER, _wider_rows(["JFK"], 180), timestamp="ts")
    assert _stored(backend) == {"scalars": 1}


def test_delete_view_removes_its_rows_and_schema_only(
    old_rows: OnlineStore, backend: OnlineBackend
) -> None:
    other = OnlineSchema("other", ("origin",), (("v", "int64"),))
    old_rows.write(other, table({"origin": ["JFK"], "ts": [at(1)], "v": [1]}), timestamp="ts")
    old_rows.delete_view("scalars")
    assert old_rows.read(SCALARS, [("JFK",), ("LGA",)]) == [None, None]
    assert values_of(old_rows, other, [("JFK",)]) == [{"v": 1}]
    assert _stored(backend) == {"other": 1}
    old_rows.delete_view("scalars")  # deleting again, or a view never written, is no error
    old_rows.delete_view("never-written")
    old_rows.write(WIDER, _wider_rows(["JFK"], 1), timestamp="ts")  # any schema, afresh
    assert values_of(old_rows, WIDER, [("JFK",)])[0]["seats"] == 1


def test_a_reader_with_a_resolved_plan_sees_a_deleted_view_as_empty(
    old_rows: OnlineStore, backend: OnlineBackend
) -> None:
    reader = backend.open()
    try:
        assert reader.read(SCALARS, [("JFK",)])[0] is not None
        old_rows.delete_view("scalars")
        assert reader.read(SCALARS, [("JFK",)]) == [None]
        old_rows.write(SCALARS, scalar_rows(["JFK"], [at(1)], [3]), timestamp="ts")
        assert values_of(reader, SCALARS, [("JFK",)]) == [
            {"n_flights": 3, "delay": 0.75, "carrier": "c3"}
        ]
    finally:
        reader.close()


def _stored(backend: OnlineBackend) -> dict[str, int]:
    """Entities stored per view, counted in the backend's own terms."""
    counts: dict[str, int] = {}
    if backend.name == "sqlite":
        assert backend.root is not None
        with sqlite3.connect(backend.root / "online" / "features.db") as conn:
            tables = [
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            views = dict(conn.execute("SELECT table_name, view FROM conveyor_online_views"))
            for name in tables:
                if name == "conveyor_online_views":
                    continue
                assert name in views, f"table {name} is left behind"
                counts[views[name]] = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        conn.close()
        return counts
    keys = redis_keys(backend.url, backend.prefix)
    fingerprints: dict[str, set[str]] = {}
    for key in keys:
        view, rest = key[len(backend.prefix) + 1 :].split(":", 1)
        if rest == "schema":
            continue
        fingerprints.setdefault(view, set()).add(rest.split(":", 1)[0])
        counts[view] = counts.get(view, 0) + 1
    assert all(len(f) == 1 for f in fingerprints.values()), fingerprints
    assert {k for k in keys if k.endswith(":schema")} == {
        f"{backend.prefix}:{view}:schema" for view in counts
    }
    return counts
