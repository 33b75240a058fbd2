"""Schema files: a :class:`DataSchema` read from and written to YAML a person can edit.

Every problem in a file (bad YAML, an unknown key, a value of the wrong type, a rule that does
not fit its column) becomes one :class:`~conveyor.core.InvalidValueError` naming the file and
the key path (``columns.dep_delay.mni``), with ``Did you mean 'min'?`` for a misspelt key.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..core import InvalidValueError, NotFoundError, did_you_mean
from ._schema import COLUMN_RULES, ColumnSchema, DataSchema, RowsSchema, Rule, SeverityDefaults

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = ["load_schema", "save_schema", "schema_from_dict"]

_HINT = "Fix the file; the docstring of conveyor.data.DataSchema describes every key."


def load_schema(path: str | os.PathLike[str]) -> DataSchema:
    """Read a schema file written by :func:`save_schema` (and perhaps edited since).

    Raises:
        NotFoundError: there is no file at ``path``.
        InvalidValueError: the file is not valid YAML or not a valid schema; one message names
            the file, every bad key path and what it should be.
    """
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"No data schema file at {file}.",
            hint="Check the path, or infer a schema from reference data "
            "(conveyor.data.infer_schema, then save_schema) and save it there.",
            path=str(file),
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        what = "is a folder" if isinstance(exc, IsADirectoryError) else "is not UTF-8 text"
        raise InvalidValueError(
            f"The data schema file {file} {what}; expected a YAML file.",
            hint="Point at the .yaml file of the schema.",
            path=str(file),
        ) from None
    try:
        raw = yaml.load(text, Loader=_loader())  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise InvalidValueError(
            f"The data schema file {file} is not valid YAML: {_yaml_problem(exc)}.",
            hint="Fix the syntax; save_schema writes a valid file to start from.",
            path=str(file),
        ) from None
    return schema_from_dict(raw, source=str(file))


def schema_from_dict(raw: Any, *, source: str = "the data schema") -> DataSchema:
    """Validate a schema given as plain data (as YAML or JSON loads it).

    Raises:
        InvalidValueError: naming ``source``, every bad key path and what it should be.
    """
    if not isinstance(raw, Mapping):
        raise InvalidValueError(
            f"{source} must hold a mapping with keys such as 'dataset' and 'columns'. "
            f"Got {type(raw).__name__}: {raw!r:.80}.",
            hint=_HINT,
            path=source,
        )
    try:
        return DataSchema.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(err, raw) for err in exc.errors())
        end = "" if problems.endswith(("?", ".")) else "."
        raise InvalidValueError(
            f"Invalid data schema in {source}: {problems}{end}", hint=_HINT, path=source
        ) from None


def save_schema(
    schema: DataSchema, path: str | os.PathLike[str], *, header_comment: str | None = None
) -> Path:
    """Write ``schema`` as YAML: one line per column, rules in a fixed order; return the path.

    Loading the file gives back an equal schema. Folders are created as needed; the file is
    written to a temporary name then renamed, so a reader never sees half of it.

    Args:
        schema: The schema to write.
        path: Where to write it (conventionally ``schemas/<dataset>.yaml`` in the project).
        header_comment: Comment lines at the top of the file (``#`` is added); by default
            names the dataset and says how severities are written.
    """
    import yaml

    if header_comment is None:
        name = f" for {schema.dataset!r}" if schema.dataset else ""
        header_comment = (
            f"conveyor data schema{name}; edit freely (keys: see conveyor.data.DataSchema).\n"
            "A broken rule halts the pipeline unless its severity is warning; set a rule's\n"
            "with e.g. min: {value: 0, severity: warning}, a column's with severity: warning."
        )
    header = "".join(f"# {line}".rstrip() + "\n" for line in header_comment.splitlines())
    body = yaml.dump(
        _document(schema),
        Dumper=_dumper(),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=float("inf"),
    )
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f".{file.name}.partial")
    partial.write_text(header + body, encoding="utf-8")
    partial.replace(file)
    return file


def _document(schema: DataSchema) -> dict[str, Any]:
    """The schema as plain data, leaving out what equals the defaults."""
    document: dict[str, Any] = {}
    if schema.dataset is not None:
        document["dataset"] = schema.dataset
    severities = schema.default_severity.model_dump(exclude_defaults=True)
    if severities:
        document["default_severity"] = _Flow(severities)
    rows = _rules(schema.rows, ("min", "max", "severity"))
    if rows:
        document["rows"] = _Flow(rows)
    if schema.extra_columns != "allow":
        document["extra_columns"] = schema.extra_columns
    document["columns"] = {
        name: _Flow(_rules(spec, (*COLUMN_RULES, "severity"))) or None
        for name, spec in schema.columns.items()
    }
    return document


def _rules(model: BaseModel, keys: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value = getattr(model, key)
        if value is None:
            continue
        if isinstance(value, Rule):
            plain = list(value.value) if isinstance(value.value, tuple) else value.value
            if value.severity is not None:
                plain = {"value": plain, "severity": value.severity}
            value = plain
        out[key] = value
    return out


class _Flow(dict[str, Any]):
    """A mapping written on one line: ``{type: int64, min: 0}``."""


_LINE_BREAKS = "\x85\u2028\u2029"


@functools.cache
def _dumper() -> type:
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]  # yaml ships no types
        pass

    def flow(dumper: yaml.SafeDumper, data: _Flow) -> Any:
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)

    def blank(dumper: yaml.SafeDumper, data: None) -> Any:
        # A column with no rule reads `notes:`, not `notes: null`.
        return dumper.represent_scalar("tag:yaml.org,2002:null", "")

    def text(dumper: yaml.SafeDumper, data: str) -> Any:
        # PyYAML with allow_unicode writes NEL and the Unicode line and paragraph separators
        # raw, and reads them back as line breaks: quote those strings so they are escaped.
        if any(c in data for c in _LINE_BREAKS):
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return dumper.represent_str(data)

    Dumper.add_representer(_Flow, flow)
    Dumper.add_representer(type(None), blank)
    Dumper.add_representer(str, text)
    return Dumper


@functools.cache
def _loader() -> type:
    """A safe YAML loader that refuses a key given twice (YAML would keep the last silently)."""
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # yaml ships no types
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; construct_mapping reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
        constructed: dict[Any, Any] = loader.construct_mapping(node, deep=True)
        return constructed

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def _known_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (a key path without its last part)."""
    if not loc:
        return list(DataSchema.model_fields)
    head, depth = loc[0], len(loc)
    if head == "columns" and depth == 2:
        return list(ColumnSchema.model_fields)
    if (head == "columns" and depth == 3) or (head == "rows" and depth == 2):
        return list(Rule.model_fields)
    if head == "rows":
        return list(RowsSchema.model_fields)
    if head == "default_severity":
        return list(SeverityDefaults.model_fields)
    return []


def _problem(err: ErrorDetails, raw: Mapping[str, Any]) -> str:
    loc = list(err["loc"])
    if loc and loc[-1] == "[key]":  # a column name that YAML read as a number or boolean
        return (
            f"the column name {loc[-2]!r} under 'columns' must be a string; quote it in "
            f"the file: '{loc[-2]}'"
        )
    # `min: -60` is stored as {value: -60}; name the key as the file wrote it.
    if len(loc) >= 2 and loc[-1] == "value" and not isinstance(_at(raw, loc[:-1]), Mapping):
        loc = loc[:-1]
    key = ".".join(str(part) for part in loc)
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ").rstrip(".")
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return (
            f"unknown key {key!r}.{did_you_mean(str(loc[-1]), known)} Known keys here: "
            + ", ".join(known)
        )
    if kind == "missing":
        return f"key {key!r} is missing"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"key {key!r} must be a mapping such as {_example(loc)}. Got {err['input']!r}"
    msg = msg.replace("Input should be", "must be")
    if not key:  # a rule across keys names them itself
        return msg
    got = "" if "Got " in msg or isinstance(err["input"], Mapping) else f". Got {err['input']!r}"
    if kind == "literal_error" and isinstance(err["input"], str):
        options = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        suggestion = did_you_mean(err["input"], options)
        got += f".{suggestion}" if suggestion else ""
    return f"key {key!r}: {msg}{got}" if kind == "value_error" else f"key {key!r} {msg}{got}"


def _example(loc: Sequence[str | int]) -> str:
    """A mapping that would fit at ``loc``, for a message."""
    if list(loc) == ["columns"]:
        return "{dep_delay: {type: float64}}"
    if len(loc) == 2 and loc[0] == "columns":
        return "{type: float64, min: 0}"
    if list(loc) == ["default_severity"]:
        return "{min: warning}"
    return "{min: 1}" if list(loc) == ["rows"] else "{value: 0, severity: warning}"


def _at(raw: Any, loc: Sequence[str | int]) -> Any:
    for part in loc:
        if not isinstance(raw, Mapping) or part not in raw:
            return None
        raw = raw[part]
    return raw
