"""The materializer registry: what each value is stored as, what is refused and why, users'
own materializers, and loading by the name an artifact records (never by importing it)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.artifacts import LocalArtifactStore
from conveyor.core import ArtifactError, PipelineDefinitionError
from conveyor.pipelines import Materializer, register_materializer
from conveyor.pipelines import _materializers as registry
from conveyor.pipelines._worker import InputRef, Workdir, load_input, store_output


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def workdir() -> Iterator[Workdir]:
    made = Workdir()
    yield made
    made.cleanup()


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by the test are forgotten after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def round_trip(store: LocalArtifactStore, workdir: Workdir, value: Any) -> tuple[Any, Any]:
    """``(loaded value, what was recorded)`` for ``value`` stored as a step output."""
    spec = store_output(store, value, workdir, "out")
    ref = InputRef(1, spec.digest, spec.kind, spec.meta["materializer"])
    return load_input(store, ref, workdir), spec


@dataclass
class Point:
    x: float
    y: float


def point_materializer(name: str = "point") -> Materializer:
    return Materializer(
        name=name,
        types=(f"{Point.__module__}.{Point.__qualname__}",),
        save=lambda p, path: path.write_text(json.dumps([p.x, p.y])),
        load=lambda path: Point(*json.loads(path.read_text())),
        media_type="application/vnd.test.point+json",
    )


@pytest.mark.usefixtures("own_registry")
def test_a_registered_materializer_stores_and_loads_its_type(
    store: LocalArtifactStore, workdir: Workdir
) -> None:
    register_materializer(point_materializer())
    loaded, spec = round_trip(store, workdir, Point(1.0, 2.5))
    assert loaded == Point(1.0, 2.5)
    assert spec.meta == {"materializer": "point"} and spec.kind == "file"
    assert spec.type_name.endswith("test_materializer_registry.Point")
    assert spec.media_type == "application/vnd.test.point+json"


@pytest.mark.usefixtures("own_registry")
def test_the_later_registration_for_a_type_wins(
    store: LocalArtifactStore, workdir: Workdir
) -> None:
    register_materializer(point_materializer("point-v1"))
    register_materializer(point_materializer("point-v2"))
    assert registry.materializer_for_value(Point(0, 0)).name == "point-v2"
    assert registry.materializer_for_type(Point).name == "point-v2"  # type: ignore[union-attr]
    # Artifacts written by the first one still load: the name they recorded is looked up.
    spec = store_output(store, Point(3, 4), workdir, "out")
    old = InputRef(1, spec.digest, spec.kind, "point-v1")
    assert load_input(store, old, workdir) == Point(3, 4)


def test_an_unknown_materializer_name_is_refused_with_the_fix() -> None:
    with pytest.raises(PipelineDefinitionError, match="No materializer named 'point'") as info:
        registry.get_materializer("point")
    assert "register_materializer" in str(info.value.hint)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({1: "a"}, "builtins.dict"),  # keys must be strings to be JSON
        ([1, {2, 3}], "builtins.list"),
        ({"model": object()}, "builtins.dict"),
        (Point(1, 2), "Point"),
    ],
)
def test_a_value_nothing_can_store_is_refused_naming_its_type(value: Any, what: str) -> None:
    with pytest.raises(TypeError, match=f"cannot store a [a-z_.]*{what}") as info:
        registry.materializer_for_value(value)
    assert "register a materializer" in str(info.value)


def test_json_nested_past_a_hundred_levels_is_refused() -> None:
    deep: Any = 0
    for _ in range(101):
        deep = [deep]
    with pytest.raises(TypeError, match="cannot store a builtins.list"):
        registry.materializer_for_value(deep)
    assert registry.materializer_for_value(deep[0]).name == "json"


def test_json_values_keep_their_meaning(store: LocalArtifactStore, workdir: Workdir) -> None:
    value = {"shape": (3, 4), "scores": [1.0, math.nan, -math.inf], "ok": False, "none": None}
    loaded, spec = round_trip(store, workdir, value)
    assert spec.media_type == "application/json" and spec.kind == "file"
    assert loaded["shape"] == [3, 4]  # a tuple comes back as a JSON list
    assert math.isnan(loaded["scores"][1]) and loaded["scores"][2] == -math.inf
    assert (loaded["ok"], loaded["none"]) == (False, None)
    # The stored bytes are strict JSON any reader can parse.
    json.loads(store.get_bytes(spec.digest), parse_constant=lambda c: pytest.fail(c))


def test_a_dict_shaped_like_the_float_tag_round_trips(
    store: LocalArtifactStore, workdir: Workdir
) -> None:
    # The shapes the tags use, nested, beside the tags themselves.
    value = {
        "a": {"__float__": "1.5"},
        "b": {"__dict__": [["x", 1]]},
        "c": [{"__float__": {"__float__": "nan"}}],
        "d": float("inf"),
    }
    loaded = round_trip(store, workdir, value)[0]
    assert loaded == value
    assert round_trip(store, workdir, {"__float__": "1.5"})[0] == {"__float__": "1.5"}


def test_bytearrays_are_stored_as_bytes(store: LocalArtifactStore, workdir: Workdir) -> None:
    loaded, spec = round_trip(store, workdir, bytearray(b"\x00\xff"))
    assert loaded == b"\x00\xff" and spec.meta["materializer"] == "bytes"


def test_a_path_to_one_file_is_stored_as_that_file(
    tmp_path: Path, store: LocalArtifactStore, workdir: Workdir
) -> None:
    report = tmp_path / "report.html"
    report.write_text("<h1>ok</h1>")
    loaded, spec = round_trip(store, workdir, report)
    assert spec.kind == "file" and spec.meta["materializer"] == "path"
    assert isinstance(loaded, Path) and loaded.read_text() == "<h1>ok</h1>"
    assert loaded != report  # a copy in the reader's own work folder


def test_a_directory_output_copies_what_its_links_point_at(
    tmp_path: Path, store: LocalArtifactStore, workdir: Workdir
) -> None:
    outside = tmp_path / "weights.bin"
    outside.write_bytes(b"w" * 10)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").symlink_to(outside)
    loaded, spec = round_trip(store, workdir, folder)
    assert spec.kind == "dir" and [f[0] for f in spec.files] == ["weights.bin"]
    copied = loaded / "weights.bin"
    assert not copied.is_symlink() and copied.read_bytes() == b"w" * 10


def test_a_path_that_does_not_exist_is_named(
    tmp_path: Path, store: LocalArtifactStore, workdir: Workdir
) -> None:
    missing = tmp_path / "never-written.csv"
    with pytest.raises(FileNotFoundError, match="returned the path .*never-written.csv"):
        store_output(store, missing, workdir, "out")


def test_numpy_arrays_keep_dtype_and_shape(store: LocalArtifactStore, workdir: Workdir) -> None:
    for array in (
        np.array(3.5),
        np.zeros((2, 0, 3), dtype=np.int16),
        np.array(["a", "bc"]),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
    ):
        loaded, spec = round_trip(store, workdir, array)
        assert spec.media_type == "application/x-npy"
        assert loaded.dtype == array.dtype and loaded.shape == array.shape
        np.testing.assert_array_equal(loaded, array)


def test_dataframes_keep_their_index_and_dtypes(
    store: LocalArtifactStore, workdir: Workdir
) -> None:
    frame = pd.DataFrame(
        {"when": pd.to_datetime(["2024-01-01", "2024-01-02"]), "n": pd.array([1, None], "Int64")},
        index=pd.Index(["a", "b"], name="key"),
    )
    loaded, spec = round_trip(store, workdir, frame)
    assert spec.media_type == "application/vnd.apache.parquet"
    pd.testing.assert_frame_equal(loaded, frame)


def test_a_model_file_saved_and_loaded_through_paths_refuses_untrusted_types(
    tmp_path: Path,
) -> None:
    from sklearn.linear_model import LogisticRegression

    skops = registry.get_materializer("skops")
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    skops.save(model, tmp_path / "plain.skops")
    assert list(skops.load(tmp_path / "plain.skops").predict([[3.0]])) == [1]
    model.smuggled_ = Point(1, 2)
    skops.save(model, tmp_path / "smuggled.skops")
    with pytest.raises(ArtifactError, match="untrusted types: .*Point") as info:
        skops.load(tmp_path / "smuggled.skops")
    assert "nothing was executed" in str(info.value)
