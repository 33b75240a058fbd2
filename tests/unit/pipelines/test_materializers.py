"""Materializers round-trip their types, and refuse what they must not load."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.artifacts import LocalArtifactStore
from conveyor.core import ArtifactError
from conveyor.pipelines._code import code_hash
from conveyor.pipelines._materializers import materializer_for_value
from conveyor.pipelines._step import step
from conveyor.pipelines._worker import InputRef, Workdir, load_input, store_output

KEEP: list[Workdir] = []  # loaded Path values live in their workdir: keep it for the test


def round_trip(value: Any, tmp_path: Path) -> Any:
    store = LocalArtifactStore(tmp_path / "store")
    workdir = Workdir()
    try:
        spec = store_output(store, value, workdir, "x")
        ref = InputRef(1, spec.digest, spec.kind, spec.meta["materializer"])
        KEEP.append(Workdir())
        return load_input(store, ref, KEEP[-1])
    finally:
        workdir.cleanup()


@pytest.mark.parametrize("value", [None, 3, 2.5, "s", [1, [2]], {"a": {"b": [1.5]}}, True])
def test_json_values(value: Any, tmp_path: Path) -> None:
    assert round_trip(value, tmp_path) == value


def test_non_finite_floats_survive_json(tmp_path: Path) -> None:
    out = round_trip({"nan": math.nan, "inf": math.inf, "ninf": -math.inf}, tmp_path)
    assert math.isnan(out["nan"]) and out["inf"] == math.inf and out["ninf"] == -math.inf


def test_bytes_numpy_pandas_arrow(tmp_path: Path) -> None:
    assert round_trip(b"\x00\x01", tmp_path / "b") == b"\x00\x01"
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(round_trip(array, tmp_path / "n"), array)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    pd.testing.assert_frame_equal(round_trip(frame, tmp_path / "p"), frame)
    table = pa.table({"a": [1, 2]})
    assert round_trip(table, tmp_path / "t").equals(table)


def test_object_arrays_are_not_pickled(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot store"):
        materializer_for_value(np.array([object()], dtype=object))


def test_paths_store_files_and_directories(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"weights")
    loaded = round_trip(folder, tmp_path / "d")
    assert (loaded / "sub" / "w.bin").read_bytes() == b"weights"


def test_sklearn_models_load_through_skops(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    loaded = round_trip(model, tmp_path)
    assert list(loaded.predict([[0.0], [3.0]])) == [0, 1]


class Smuggled:
    """A type skops does not trust."""


def test_skops_file_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    model.smuggled_ = Smuggled()
    store = LocalArtifactStore(tmp_path / "store")
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    blob = store.put_file(path)
    with pytest.raises(ArtifactError, match="untrusted types"):
        load_input(store, InputRef(1, blob.digest, "file", "skops"), Workdir())


def helper(x: int) -> int:
    return x + 1


@step
def uses_helper(x: int) -> int:
    return helper(x)


@step(version="v2")
def pinned(x: int) -> int:
    return x


def test_code_hash_covers_same_module_helpers_and_respects_version() -> None:
    before = code_hash(uses_helper)
    global helper
    original = helper

    def helper(x: int) -> int:  # type: ignore[no-redef]
        return x + 2

    try:
        assert code_hash(uses_helper) != before
    finally:
        helper = original
    assert code_hash(uses_helper) == before

    def other(x: int) -> int:
        return x * 2

    assert code_hash(pinned) == code_hash(step(version="v2")(other))
