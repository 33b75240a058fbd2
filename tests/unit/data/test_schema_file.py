"""Schema files: exact round trips, a readable layout, and one clear message per bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core import InvalidValueError, NotFoundError
from conveyor.data import ColumnSchema, DataSchema, RowsSchema, Rule, load_schema, save_schema
from conveyor.data._schema_file import schema_from_dict

EXAMPLE = """\
# conveyor data schema for 'flights'; edit freely.
dataset: flights
default_severity: {min: warning, max: warning, categories: warning}
rows: {min: 1, severity: warning}
extra_columns: forbid
columns:
  dep_delay: {type: float64, nullable: true, min: -60.0, max: 1500.0}
  carrier: {type: string, nullable: false, categories: [AA, DL, UA], severity: warning}
  flight_id: {type: int64, unique: true}
  tail: {type: string, required: false, max_null_fraction: {value: 0.05, severity: error}}
  departed: {type: 'timestamp[us, UTC]', nullable: {value: false, severity: warning}}
  notes:
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flights.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> DataSchema:
    return load_schema(write(tmp_path, text))


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(InvalidValueError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert str(tmp_path / "flights.yaml") in message  # every message names the file
    assert "Traceback" not in message and "pydantic" not in message
    return message


def test_the_documented_example_loads(tmp_path: Path) -> None:
    schema = load_text(tmp_path, EXAMPLE)
    assert schema.dataset == "flights" and schema.extra_columns == "forbid"
    assert list(schema.columns) == [
        "dep_delay",
        "carrier",
        "flight_id",
        "tail",
        "departed",
        "notes",
    ]
    assert schema.severity("dep_delay", "min") == "warning"
    assert schema.severity("carrier", "nullable") == "warning"
    assert schema.severity("tail", "max_null_fraction") == "error"
    assert schema.severity("departed", "nullable") == "warning"
    assert schema.columns["departed"].logical_type == "timestamp[us, UTC]"
    assert schema.rows.severity_of("min") == "warning"


def test_saving_then_loading_gives_the_same_schema_and_the_same_file(tmp_path: Path) -> None:
    schema = load_text(tmp_path, EXAMPLE)
    path = save_schema(schema, tmp_path / "out" / "flights.yaml")
    assert load_schema(path) == schema
    first = path.read_text(encoding="utf-8")
    save_schema(load_schema(path), path)
    assert path.read_text(encoding="utf-8") == first


def test_the_file_has_one_line_per_column_and_leaves_defaults_out(tmp_path: Path) -> None:
    schema = load_text(tmp_path, EXAMPLE)
    text = save_schema(
        schema, tmp_path / "s.yaml", header_comment="for flights\nedit me"
    ).read_text()
    # The documented example is what save_schema writes: same order, same shapes.
    assert text == "# for flights\n# edit me\n" + EXAMPLE.split("\n", 1)[1]


def test_the_default_header_names_the_dataset_and_how_to_set_a_severity(tmp_path: Path) -> None:
    text = save_schema(DataSchema(dataset="flights"), tmp_path / "s.yaml").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "'flights'" in header[0]
    assert any("severity: warning" in line for line in header)
    assert load_schema(tmp_path / "s.yaml") == DataSchema(dataset="flights")


def test_values_yaml_would_misread_are_quoted_and_survive(tmp_path: Path) -> None:
    schema = DataSchema.model_validate(
        {
            "columns": {
                "1": {"type": "string", "categories": ["yes", "null", "1", "a: b", "[x]"]},
                "true": {"type": "float64", "min": -1e300, "max": float("inf")},
                "with space": {"type": "uint64", "max": 2**64 - 1},
                "ratio": {"type": "float32", "min": 0.1000000014901161, "max": 1 / 3},
            }
        }
    )
    assert load_schema(save_schema(schema, tmp_path / "s.yaml")) == schema


def test_saving_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("old content that is longer than the new file " * 100)
    save_schema(DataSchema(), path)
    assert load_schema(path) == DataSchema()
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


def test_a_misspelt_rule_names_its_key_path_and_suggests(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  dep_delay: {type: float64, mni: -60}\n")
    assert "'columns.dep_delay.mni'" in message
    assert "Did you mean 'min'?" in message
    assert "Known keys here: type, required" in message


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("dataset: x\nextra_column: warn\n", "'extra_column'", "'extra_columns'"),
        ("rows: {mim: 1}\n", "'rows.mim'", "'min'"),
        (
            "default_severity: {catgories: warning}\n",
            "'default_severity.catgories'",
            "'categories'",
        ),
        (
            "columns:\n  x: {type: int64, min: {value: 1, sevrity: warning}}\n",
            "'columns.x.min.sevrity'",
            "'severity'",
        ),
    ],
)
def test_typos_anywhere_are_found(tmp_path: Path, text: str, key: str, suggestion: str) -> None:
    message = problem(tmp_path, text)
    assert key in message and f"Did you mean {suggestion}?" in message


def test_a_value_of_the_wrong_type_names_the_key_as_written(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  dep_delay: {type: float64, min: 'low'}\n")
    assert "key 'columns.dep_delay.min'" in message  # not '...min.value'
    assert "must be a number" in message and "Got 'low'" in message


def test_a_wrong_value_inside_a_rule_mapping_names_the_value_key(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  x: {type: float64, min: {value: low}}\n")
    assert "key 'columns.x.min.value'" in message and "must be a number" in message


def test_a_bad_choice_lists_the_choices_and_suggests(tmp_path: Path) -> None:
    message = problem(tmp_path, "extra_columns: warning\n")
    assert "'extra_columns'" in message and "'allow', 'warn' or 'forbid'" in message
    assert "Got 'warning'" in message and "Did you mean 'warn'?" in message


def test_a_section_that_is_not_a_mapping_says_so(tmp_path: Path) -> None:
    message = problem(tmp_path, "rows: 5\n")
    assert "key 'rows' must be a mapping" in message and "Got 5" in message


def test_a_rule_that_does_not_fit_its_column_is_explained(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  carrier: {type: string, min: 1}\n")
    assert "'columns.carrier'" in message and "'min' needs a numeric type" in message


def test_several_problems_are_all_named_in_one_message(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  a: {mni: 1}\n  b: {nullable: maybe}\n")
    assert "'columns.a.mni'" in message and "'columns.b.nullable'" in message


def test_a_column_name_yaml_reads_as_a_number_must_be_quoted(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  2024: {type: int64}\n")
    assert "column name 2024" in message and "quote it" in message


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  a: {type: int64}\n  a: {type: string}\n")
    assert "found the key 'a' twice" in message and "line 3" in message


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    message = problem(tmp_path, "columns:\n  a: {type: int64\n  b: 1\n")
    assert "is not valid YAML" in message and "line " in message


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "- dataset\n- columns\n")
    assert "must hold a mapping" in message and "list" in message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert "must hold a mapping" in problem(tmp_path, "")


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        load_schema(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)
    assert info.value.hint is not None and "infer_schema" in info.value.hint


def test_a_folder_or_binary_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="is a folder"):
        load_schema(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidValueError, match="not UTF-8"):
        load_schema(binary)


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "dataset: !!python/object/apply:os.system ['true']\n")
    assert "is not valid YAML" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns: [a, b]\n", "'columns' must be a mapping such as {dep_delay: {type: float64}}"),
        ("columns:\n  x: int64\n", "'columns.x' must be a mapping such as {type: float64, min: 0}"),
        ("default_severity: warning\n", "'default_severity' must be a mapping such as {min: warn"),
        ("default_severity: {min: warn}\n", "Got 'warn'. Did you mean 'warning'?"),
        ("dataset: my flights\n", "key 'dataset': The dataset name 'my flights' is not valid"),
        ("rows: {min: -1}\n", "key 'rows.min': must be a whole number, 0 or more. Got -1"),
        ("columns:\n  x: {min: {severity: warning}}\n", "key 'columns.x.min.value' is missing"),
        ("columns:\n  x: {type: 'timestamp[us, Nowhere]'}\n", "time zone 'Nowhere'"),
        ("columns:\n  x: {categories: AA}\n", "must be a non-empty list such as [AA, DL, UA]"),
        ("columns:\n  x: {type: int64, max_null_fraction: 5%}\n", "must be a number"),
    ],
)
def test_each_problem_reads_clearly(tmp_path: Path, text: str, expected: str) -> None:
    message = problem(tmp_path, text)
    assert expected in message
    assert message.endswith("describes every key.")  # the hint, after one sentence


def test_a_schema_from_plain_data_names_its_source() -> None:
    with pytest.raises(InvalidValueError) as info:
        schema_from_dict({"columns": {"x": {"nulable": False}}}, source="the request body")
    assert str(info.value).startswith("Invalid data schema in the request body: ")
    assert "Did you mean 'nullable'?" in str(info.value)
    assert info.value.path == "the request body"  # type: ignore[attr-defined]
    assert schema_from_dict({"dataset": "a"}) == DataSchema(dataset="a")


def test_an_empty_header_writes_no_comment_and_folders_are_made(tmp_path: Path) -> None:
    path = save_schema(DataSchema(dataset="d"), tmp_path / "a" / "b" / "d.yaml", header_comment="")
    assert path.read_text() == "dataset: d\ncolumns: {}\n"


def test_header_lines_are_commented_without_trailing_spaces(tmp_path: Path) -> None:
    path = save_schema(DataSchema(), tmp_path / "s.yaml", header_comment="one\n\ntwo  ")
    assert path.read_text().startswith("# one\n#\n# two\n")


def test_a_schema_built_in_python_saves_like_one_from_a_file(tmp_path: Path) -> None:
    built = DataSchema(
        dataset="flights",
        rows=RowsSchema(min=Rule(value=1)),
        columns={"dep_delay": ColumnSchema(type=Rule(value="float64"), min=Rule(value=-60.0))},
    )
    text = save_schema(built, tmp_path / "s.yaml", header_comment="").read_text()
    assert text == (
        "dataset: flights\nrows: {min: 1}\ncolumns:\n  dep_delay: {type: float64, min: -60.0}\n"
    )
    assert load_schema(tmp_path / "s.yaml") == built
