"""Any valid schema, with any mix of plain rules and rules with severities, saves to YAML and
loads back equal: the file is the schema, exactly."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.data import DataSchema, load_schema, save_schema

SEVERITY = st.sampled_from(["error", "warning"])
# Names YAML would misread unless quoted, next to ordinary ones.
NAMES = st.one_of(
    st.sampled_from(["yes", "null", "1", "1.5", "~", "a: b", "- x", "#c", "é", "with space"]),
    st.text("abcdefgh_", min_size=1, max_size=8),
)
NUMBERS = st.one_of(
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
)


def maybe_with_severity(value: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(value), SEVERITY.map(lambda s: {"value": value, "severity": s}))


@st.composite
def columns(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["int64", "uint8", "float32", "string", "bool", "none", "ts"]))
    spec: dict[str, Any] = {}
    if kind == "ts":
        spec["type"] = draw(st.sampled_from(["timestamp[ms]", "timestamp[ns, UTC]"]))
    elif kind != "none":
        spec["type"] = kind
    for rule in ("required", "nullable", "unique"):
        if draw(st.booleans()):
            spec[rule] = draw(maybe_with_severity(draw(st.booleans())))
    if draw(st.booleans()):
        spec["max_null_fraction"] = draw(maybe_with_severity(draw(st.floats(0, 1))))
    if kind in ("int64", "uint8", "float32") and draw(st.booleans()):
        low, high = sorted(draw(st.lists(NUMBERS, min_size=2, max_size=2)))
        spec["min"] = draw(maybe_with_severity(low))
        spec["max"] = draw(maybe_with_severity(high))
    if kind in ("string", "int64") and draw(st.booleans()):
        values = st.text(max_size=5) if kind == "string" else st.integers(-5, 5)
        spec["categories"] = draw(
            maybe_with_severity(draw(st.lists(values, min_size=1, max_size=5, unique=True)))
        )
    if draw(st.booleans()):
        spec["severity"] = draw(SEVERITY)
    return spec


@st.composite
def schemas(draw: st.DrawFn) -> DataSchema:
    raw: dict[str, Any] = {
        "columns": draw(st.dictionaries(NAMES, columns(), max_size=5)),
        "extra_columns": draw(st.sampled_from(["allow", "warn", "forbid"])),
    }
    if draw(st.booleans()):
        raw["dataset"] = draw(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True))
    if draw(st.booleans()):
        raw["default_severity"] = draw(
            st.dictionaries(st.sampled_from(["min", "max", "categories", "type"]), SEVERITY)
        )
    bound = st.integers(0, 10**6)
    low, high = sorted(draw(st.lists(bound, min_size=2, max_size=2)))
    raw["rows"] = {
        key: draw(maybe_with_severity(value))
        for key, value in (("min", low), ("max", high))
        if draw(st.booleans())
    }
    if draw(st.booleans()):
        raw["rows"]["severity"] = draw(SEVERITY)
    return DataSchema.model_validate(raw)


@settings(max_examples=150, deadline=None)
@given(schemas())
def test_every_schema_round_trips_through_its_file(schema: DataSchema) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = save_schema(schema, Path(folder) / "s.yaml")
        assert load_schema(path) == schema
        first = path.read_text(encoding="utf-8")
        assert save_schema(load_schema(path), path).read_text(encoding="utf-8") == first


def test_categories_with_unicode_line_breaks_round_trip(tmp_path: Path) -> None:
    # Found by the property above: PyYAML wrote NEL raw and read it back as a space.
    schema = DataSchema.model_validate(
        {"columns": {"c": {"type": "string", "categories": ["\x85", "x\u2028y", "Zürich"]}}}
    )
    path = save_schema(schema, tmp_path / "s.yaml")
    assert load_schema(path) == schema
    assert "Zürich" in path.read_text(encoding="utf-8")  # readable, not escaped
