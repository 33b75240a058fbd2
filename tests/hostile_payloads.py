"""A corpus of hostile prediction requests, each with the statuses a server may answer.

Built in code from a valid request per protocol, so it stays independent of the parsers it
tests: the unit tests run it through the parse functions, the integration tests replay it
against the real HTTP server (serve a model with :data:`SIGNATURE` and a row limit of
:data:`MAX_ROWS`; post ``case.body`` to :func:`path` with ``case.content_type``).

Every case is a bad request: the answer must be one of ``case.expected`` (400, 413, 415 or
422), name at least one field, and contain none of ``case.forbidden`` (the offending values)
nor a dump of the signature.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

Endpoint = Literal["mlflow", "oip", "kserve_v1"]

MODEL = "hostile"
MAX_ROWS = 100
CANARY = "zq7-canary-value"
BIG = 31337.5  # an offending number that no message may repeat

SIGNATURE: dict[str, Any] = {
    "inputs": [
        {"name": "age", "type": "long", "required": True},
        {"name": "income", "type": "double", "required": True},
        {"name": "city", "type": "string", "required": True},
        {"name": "member", "type": "boolean", "required": True},
        {"name": "signup", "type": "datetime", "required": True},
        {"name": "rating", "type": "integer", "required": True},
        {"name": "score", "type": "double", "required": False},
        {"name": "photo", "type": "binary", "required": False},
    ],
    "outputs": [{"type": "double"}],
}
REQUIRED = ["age", "income", "city", "member", "signup", "rating"]
ROW: dict[str, Any] = {
    "age": 41,
    "income": 52000.5,
    "city": "Lyon",
    "member": True,
    "signup": "2024-05-01T12:00:00",
    "rating": 4,
}
_OIP_TYPES = {
    "age": "INT64",
    "income": "FP64",
    "city": "BYTES",
    "member": "BOOL",
    "signup": "BYTES",
    "rating": "INT32",
}
JSON = "application/json"
BAD_REQUEST = frozenset({400})
UNPROCESSABLE = frozenset({422})
MALFORMED = frozenset({400, 422})
TOO_LARGE = frozenset({413})


class Case(NamedTuple):
    name: str
    content_type: str | None
    body: bytes
    expected: frozenset[int]
    endpoint: Endpoint = "mlflow"
    forbidden: tuple[str, ...] = ()


def path(case: Case, model: str = MODEL) -> str:
    """The URL path ``case`` is posted to."""
    if case.endpoint == "oip":
        return f"/v2/models/{model}/infer"
    if case.endpoint == "kserve_v1":
        return f"/v1/models/{model}:predict"
    return "/invocations"


def dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


def split(rows: list[dict[str, Any]], columns: list[str] | None = None) -> dict[str, Any]:
    names = columns or list(rows[0]) if rows else (columns or list(ROW))
    return {
        "dataframe_split": {"columns": names, "data": [[r.get(n) for n in names] for r in rows]}
    }


def records(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dataframe_records": rows}


def oip(rows: list[dict[str, Any]], columns: list[str] | None = None) -> dict[str, Any]:
    names = columns or list(ROW)
    return {
        "id": "req-1",
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": n,
                "shape": [len(rows)],
                "datatype": _OIP_TYPES.get(n, "BYTES"),
                "data": [r.get(n) for r in rows],
            }
            for n in names
        ],
    }


def _valid_bodies() -> dict[str, tuple[Endpoint, bytes]]:
    return {
        "split": ("mlflow", dumps(split([ROW]))),
        "records": ("mlflow", dumps(records([ROW]))),
        "instances": ("mlflow", dumps({"instances": [ROW]})),
        "inputs": ("mlflow", dumps({"inputs": {k: [v] for k, v in ROW.items()}})),
        "oip": ("oip", dumps(oip([ROW]))),
        "kserve": ("kserve_v1", dumps({"instances": [ROW]})),
    }


def _with(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**row, **changes}


def _without(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != name}


def build() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    valid = _valid_bodies()

    # Truncated JSON: every form cut at several points.
    for form, (endpoint, body) in valid.items():
        for cut in (1, 2, 7, len(body) // 3, len(body) // 2, len(body) - 2, len(body) - 1):
            add(Case(f"truncated {form} at {cut}", JSON, body[:cut], BAD_REQUEST, endpoint))

    # NaN / Infinity literals where numbers go.
    for literal in ("NaN", "Infinity", "-Infinity", "nan", "inf"):
        for column in ("income", "age"):
            text = dumps(records([_with(ROW, **{column: 0})])).replace(
                f'"{column}": 0'.encode(), f'"{column}": {literal}'.encode()
            )
            add(Case(f"{literal} in records.{column}", JSON, text, BAD_REQUEST))
        text = dumps(split([_with(ROW, income=0)])).replace(b", 0,", f", {literal},".encode())
        add(Case(f"{literal} in split data", JSON, text, BAD_REQUEST))
        body = dumps(oip([_with(ROW, income=0.0)])).replace(b"[0.0]", f"[{literal}]".encode())
        add(Case(f"{literal} in oip data", JSON, body, BAD_REQUEST, "oip"))
        body = dumps({"instances": [_with(ROW, income=0)]}).replace(
            b'"income": 0', f'"income": {literal}'.encode()
        )
        add(Case(f"{literal} in kserve instances", JSON, body, BAD_REQUEST, "kserve_v1"))

    # Wrong types, per column, in records and split (the offending value never echoed).
    wrong: dict[str, list[Any]] = {
        "age": [CANARY, BIG, True, [1, 2], {"v": 1}, "41"],
        "income": [CANARY, False, ["1.5"], {"x": BIG}],
        "city": [BIG, 31337, True, [CANARY], {"k": CANARY}],
        "member": [1, 0, "true", CANARY, BIG],
        "signup": [CANARY, 31337, BIG, "2024-13-45T99:00:00", True],
        "rating": [BIG, CANARY, True, 2**40],
        "score": [CANARY, True],
        "photo": [31337, "not base64 !!" + CANARY],
    }
    for column, values in wrong.items():
        for i, value in enumerate(values):
            label = f"{column}#{i}={type(value).__name__}"
            row = _with(ROW, **{column: value})
            forbidden = (CANARY, "31337")
            add(
                Case(
                    f"wrong type records {label}",
                    JSON,
                    dumps(records([row])),
                    UNPROCESSABLE,
                    forbidden=forbidden,
                )
            )
            add(
                Case(
                    f"wrong type split {label}",
                    JSON,
                    dumps(split([row, row])),
                    UNPROCESSABLE,
                    forbidden=forbidden,
                )
            )
    for column, value in (("age", 1.5), ("city", 3), ("member", 1), ("income", "x" + CANARY)):
        body = dumps(oip([_with(ROW, **{column: value})]))
        add(Case(f"wrong type oip {column}", JSON, body, MALFORMED, "oip", (CANARY,)))
        body = dumps({"instances": [_with(ROW, **{column: value})]})
        add(Case(f"wrong type kserve {column}", JSON, body, UNPROCESSABLE, "kserve_v1", (CANARY,)))

    # Missing required columns, nulls where a value is required.
    for column in REQUIRED:
        add(
            Case(
                f"missing {column} records",
                JSON,
                dumps(records([_without(ROW, column)])),
                UNPROCESSABLE,
            )
        )
        add(
            Case(
                f"missing {column} split",
                JSON,
                dumps(split([_without(ROW, column)])),
                UNPROCESSABLE,
            )
        )
        add(
            Case(
                f"missing {column} oip",
                JSON,
                dumps(oip([ROW], [n for n in ROW if n != column])),
                UNPROCESSABLE,
                "oip",
            )
        )
        add(
            Case(
                f"null {column} records",
                JSON,
                dumps(records([_with(ROW, **{column: None})])),
                UNPROCESSABLE,
            )
        )
        add(
            Case(
                f"null {column} split",
                JSON,
                dumps(split([ROW, _with(ROW, **{column: None})])),
                UNPROCESSABLE,
            )
        )
    for column in ("age", "member"):  # optional in name only: longs and booleans hold no null
        sig_row = _with(ROW, **{column: None})
        add(
            Case(
                f"null {column} kserve",
                JSON,
                dumps({"instances": [sig_row]}),
                UNPROCESSABLE,
                "kserve_v1",
            )
        )
    add(
        Case(
            "only extra columns",
            JSON,
            dumps(records([{"x": 1, "y": CANARY}])),
            UNPROCESSABLE,
            forbidden=(CANARY,),
        )
    )
    add(Case("record is empty object", JSON, dumps(records([{}])), UNPROCESSABLE))

    # Duplicate keys in JSON objects, duplicate column names.
    record = dumps(ROW)[1:-1]
    add(
        Case(
            "duplicate key in record",
            JSON,
            b'{"dataframe_records": [{' + record + b', "age": 7}]}',
            MALFORMED,
        )
    )
    add(
        Case(
            "duplicate key in record, spaced",
            JSON,
            b'{"dataframe_records": [{' + record + b', "age" : 7}]}',
            MALFORMED,
        )
    )
    add(
        Case(
            "duplicate top-level form",
            JSON,
            b'{"dataframe_records": [{' + record + b'}], "dataframe_records": []}',
            MALFORMED,
        )
    )
    body = dumps(split([ROW]))
    add(
        Case(
            "duplicate key in split object", JSON, body[:-2] + b', "columns": ["age"]}}', MALFORMED
        )
    )
    add(
        Case(
            "duplicate params key",
            JSON,
            dumps(records([ROW]))[:-1] + b', "params": {"a": 1, "a": 2}}',
            MALFORMED,
        )
    )
    add(
        Case(
            "duplicate column in split",
            JSON,
            dumps({"dataframe_split": {"columns": [*ROW, "age"], "data": [[*ROW.values(), 5]]}}),
            UNPROCESSABLE,
        )
    )
    body = dumps(oip([ROW]))
    add(
        Case(
            "duplicate key in oip tensor",
            JSON,
            body.replace(b'"name": "age"', b'"name": "age", "name": "city"'),
            MALFORMED,
            "oip",
        )
    )
    doc = oip([ROW])
    doc["inputs"].append(dict(doc["inputs"][0]))
    add(Case("duplicate oip input name", JSON, dumps(doc), UNPROCESSABLE, "oip"))
    body = dumps({"instances": [ROW]})
    add(
        Case(
            "duplicate key in kserve instance",
            JSON,
            body.replace(b'"age": 41', b'"age": 41, "age": 42'),
            MALFORMED,
            "kserve_v1",
        )
    )

    # Empty batches.
    empty = {
        "split": {"dataframe_split": {"columns": list(ROW), "data": []}},
        "split no columns": {"dataframe_split": {"data": []}},
        "records": {"dataframe_records": []},
        "instances": {"instances": []},
        "inputs list": {"inputs": []},
        "inputs columns": {"inputs": {k: [] for k in ROW}},
    }
    for label, document in empty.items():
        add(Case(f"empty batch {label}", JSON, dumps(document), UNPROCESSABLE))
    add(Case("empty batch oip", JSON, dumps(oip([])), UNPROCESSABLE, "oip"))
    add(Case("empty batch kserve", JSON, dumps({"instances": []}), UNPROCESSABLE, "kserve_v1"))
    add(Case("empty batch csv", "text/csv", b"age,income\n", UNPROCESSABLE))

    # Over the row limit.
    for n in (MAX_ROWS + 1, 10 * MAX_ROWS):
        many = [ROW] * n
        add(Case(f"{n} rows split", JSON, dumps(split(many)), TOO_LARGE))
        add(Case(f"{n} rows records", JSON, dumps(records(many)), TOO_LARGE))
        add(Case(f"{n} rows instances", JSON, dumps({"instances": many}), TOO_LARGE))
        add(Case(f"{n} rows oip", JSON, dumps(oip(many)), TOO_LARGE, "oip"))
        add(Case(f"{n} rows kserve", JSON, dumps({"instances": many}), TOO_LARGE, "kserve_v1"))
        csv_body = ("age,income\n" + "1,2.5\n" * n).encode()
        add(Case(f"{n} rows csv", "text/csv", csv_body, TOO_LARGE))

    # Deep nesting.
    deep = b"[" * 100_000 + b"]" * 100_000
    for endpoint in ("mlflow", "oip", "kserve_v1"):
        add(Case(f"100000-deep array {endpoint}", JSON, deep, BAD_REQUEST, endpoint))  # type: ignore[arg-type]
        add(
            Case(
                f"100000-deep object {endpoint}",
                JSON,
                b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                BAD_REQUEST,
                endpoint,
            )
        )  # type: ignore[arg-type]
    add(Case("deep in records", JSON, b'{"dataframe_records": ' + deep + b"}", BAD_REQUEST))
    add(
        Case(
            "deep in params",
            JSON,
            dumps(records([ROW]))[:-1] + b', "params": ' + deep + b"}",
            BAD_REQUEST,
        )
    )
    add(
        Case(
            "1000-deep in a cell",
            JSON,
            b'{"dataframe_records": [{"age": ' + b"[" * 1000 + b"]" * 1000 + b"}]}",
            UNPROCESSABLE,
        )
    )
    add(
        Case(
            "deep in oip data",
            JSON,
            dumps(oip([ROW])).replace(b"[41]", b"[" * 5000 + b"]" * 5000),
            BAD_REQUEST,
            "oip",
        )
    )

    # Not UTF-8.
    for label, raw in (
        ("latin-1 byte", b"\xe9"),
        ("lone continuation", b"\x80"),
        ("overlong slash", b"\xc0\xaf"),
        ("surrogate", b"\xed\xa0\x80"),
        ("ff fe", b"\xff\xfe"),
        ("truncated sequence", b"\xe2\x82"),
    ):
        body = dumps(records([_with(ROW, city="Ly")])).replace(b'"Ly"', b'"Ly' + raw + b'"')
        add(Case(f"non-utf-8 {label} records", JSON, body, BAD_REQUEST))
        add(
            Case(
                f"non-utf-8 {label} oip",
                JSON,
                dumps(oip([ROW])).replace(b'"Lyon"', b'"' + raw + b'"'),
                BAD_REQUEST,
                "oip",
            )
        )
        add(
            Case(f"non-utf-8 {label} csv", "text/csv", b"age,city\n1,Ly" + raw + b"\n", BAD_REQUEST)
        )
    add(Case("utf-16 body", JSON, json.dumps(records([ROW])).encode("utf-16"), BAD_REQUEST))

    # Integers beyond what a column holds.
    for label, value in (
        ("2^53+1 in a double", {"income": 2**53 + 1}),
        ("-(2^53+1) in a double", {"income": -(2**53) - 1}),
        ("2^63 in a long", {"age": 2**63}),
        ("2^64-1 in a long", {"age": 2**64 - 1}),
        ("-2^63-1 in a long", {"age": -(2**63) - 1}),
        ("2^64 in a long", {"age": 2**64}),
        ("10^30 in a long", {"age": 10**30}),
        ("2^31 in an integer", {"rating": 2**31}),
        ("2^70 in an integer", {"rating": 2**70}),
        ("2^53+1 in optional double", {"score": 2**53 + 1}),
    ):
        add(Case(f"{label} records", JSON, dumps(records([_with(ROW, **value)])), UNPROCESSABLE))
        add(Case(f"{label} split", JSON, dumps(split([_with(ROW, **value)])), UNPROCESSABLE))
    add(
        Case(
            "10^400 in a double",
            JSON,
            dumps(records([ROW])).replace(b"52000.5", b"1" + b"0" * 400),
            BAD_REQUEST,
        )
    )
    add(Case("2^64 in oip INT64", JSON, dumps(oip([_with(ROW, age=2**64)])), MALFORMED, "oip"))
    add(Case("2^31 in oip INT32", JSON, dumps(oip([_with(ROW, rating=2**31)])), MALFORMED, "oip"))

    # Wrong top-level types and envelopes.
    for label, body in (
        ("array", b"[]"),
        ("string", b'"dataframe_split"'),
        ("number", b"42"),
        ("null", b"null"),
        ("true", b"true"),
        ("empty body", b""),
        ("whitespace", b"   \n"),
        ("empty object", b"{}"),
    ):
        for endpoint in ("mlflow", "oip", "kserve_v1"):
            add(Case(f"top-level {label} {endpoint}", JSON, body, MALFORMED, endpoint))  # type: ignore[arg-type]
    for form in ("dataframe_split", "dataframe_records", "instances", "inputs"):
        for value in ("x", 3, None, True):
            add(Case(f"{form} is {type(value).__name__}", JSON, dumps({form: value}), MALFORMED))
    add(
        Case(
            "split data not list",
            JSON,
            dumps({"dataframe_split": {"columns": list(ROW), "data": CANARY}}),
            BAD_REQUEST,
            forbidden=(CANARY,),
        )
    )
    add(
        Case(
            "split columns not strings",
            JSON,
            dumps({"dataframe_split": {"columns": [1, 2], "data": [[1, 2]]}}),
            BAD_REQUEST,
        )
    )
    add(
        Case(
            "split unknown key",
            JSON,
            dumps({"dataframe_split": {"columns": ["a"], "data": [[1]], "rows": 1}}),
            BAD_REQUEST,
        )
    )
    add(Case("unknown top-level key", JSON, dumps({**records([ROW]), "extra": 1}), BAD_REQUEST))
    add(Case("params not object", JSON, dumps({**records([ROW]), "params": [1]}), BAD_REQUEST))
    add(Case("records of arrays", JSON, dumps({"dataframe_records": [[1, 2]]}), UNPROCESSABLE))
    add(Case("instances of scalars", JSON, dumps({"instances": [1, 2, 3]}), UNPROCESSABLE))

    # Two input forms at once.
    both = [
        ("dataframe_split", "instances"),
        ("dataframe_records", "inputs"),
        ("dataframe_split", "dataframe_records"),
        ("instances", "inputs"),
    ]
    for first, second in both:
        add(Case(f"{first} and {second}", JSON, dumps({first: [ROW], second: [ROW]}), BAD_REQUEST))
    add(
        Case(
            "all four forms",
            JSON,
            dumps(
                {f: [ROW] for f in ("dataframe_split", "dataframe_records", "instances", "inputs")}
            ),
            BAD_REQUEST,
        )
    )
    add(
        Case(
            "kserve instances and inputs",
            JSON,
            dumps({"instances": [ROW], "inputs": [ROW]}),
            BAD_REQUEST,
            "kserve_v1",
        )
    )

    # Ragged rows.
    columns = list(ROW)
    values = list(ROW.values())
    for label, data in (
        ("short row", [values, values[:-1]]),
        ("long row", [values, [*values, 1]]),
        ("empty row", [[]]),
        ("scalar row", [5]),
        ("object row", [{"age": 1}]),
    ):
        add(
            Case(
                f"ragged split {label}",
                JSON,
                dumps({"dataframe_split": {"columns": columns, "data": data}}),
                UNPROCESSABLE,
            )
        )
    add(
        Case(
            "ragged positional split",
            JSON,
            dumps({"dataframe_split": {"data": [[1, 2]]}}),
            UNPROCESSABLE,
        )
    )
    add(Case("ragged instances rows", JSON, dumps({"instances": [[1, 2], [1]]}), UNPROCESSABLE))
    add(
        Case(
            "ragged inputs columns",
            JSON,
            dumps({"inputs": {"age": [1, 2], "income": [1.0]}}),
            UNPROCESSABLE,
        )
    )
    add(
        Case(
            "ragged kserve rows",
            JSON,
            dumps({"instances": [values, values[:2]]}),
            UNPROCESSABLE,
            "kserve_v1",
        )
    )

    # Huge strings and odd names.
    huge = "x" * 1_000_000 + CANARY
    add(
        Case(
            "huge string in a long",
            JSON,
            dumps(records([_with(ROW, age=huge)])),
            UNPROCESSABLE,
            forbidden=(CANARY,),
        )
    )
    add(
        Case(
            "huge string in a double oip",
            JSON,
            dumps(oip([_with(ROW, income=huge)])),
            MALFORMED,
            "oip",
            (CANARY,),
        )
    )
    add(
        Case(
            "huge column name, column missing",
            JSON,
            dumps(records([_with(_without(ROW, "age"), **{huge: 1})])),
            UNPROCESSABLE,
            forbidden=(CANARY,),
        )
    )
    add(
        Case(
            "huge unknown top-level key",
            JSON,
            dumps({**records([ROW]), huge: 1}),
            BAD_REQUEST,
            forbidden=(CANARY,),
        )
    )
    add(
        Case(
            "huge datetime string",
            JSON,
            dumps(records([_with(ROW, signup=huge)])),
            UNPROCESSABLE,
            forbidden=(CANARY,),
        )
    )
    for label, name in (
        ("accented", "\u00e2ge"),
        ("full-width", "\uff41\uff47\uff45"),
        ("zero-width joiner", "a\u200dge"),
        ("right-to-left", "\u202eega"),
        ("emoji", "\U0001f600"),
        ("NUL", "a\u0000ge"),
        ("upper case", "AGE"),
        ("trailing space", "age "),
    ):
        row = _with(_without(ROW, "age"), **{name: 41})
        add(Case(f"unicode column name {label}", JSON, dumps(records([row])), UNPROCESSABLE))
        add(Case(f"unicode column name {label} split", JSON, dumps(split([row])), UNPROCESSABLE))

    # Datetimes and binaries.
    for text in ("yesterday", "2024-02-30", "1500-01-01T00:00:00", "3000-01-01", "", "12:00"):
        add(
            Case(
                f"bad datetime {text!r}",
                JSON,
                dumps(records([_with(ROW, signup=text)])),
                UNPROCESSABLE,
            )
        )
    for text in ("!!!", "abc", "YQ", "\u00e9\u00e9=="):
        add(
            Case(
                f"bad base64 {text!r}",
                JSON,
                dumps(records([_with(ROW, photo=text)])),
                UNPROCESSABLE,
            )
        )

    # Open Inference Protocol tensors that contradict themselves.
    def tensor_case(
        label: str, change: dict[str, Any], expected: frozenset[int] = MALFORMED
    ) -> None:
        doc = oip([ROW])
        doc["inputs"][0] = {**doc["inputs"][0], **change}
        add(Case(f"oip {label}", JSON, dumps(doc), expected, "oip"))

    tensor_case("shape larger than data", {"shape": [2]})
    tensor_case("shape smaller than data", {"shape": [1], "data": [1, 2]})
    tensor_case("shape 2-D mismatch", {"shape": [1, 3], "data": [1, 2]})
    tensor_case("shape 3-D", {"shape": [1, 1, 1]})
    tensor_case("shape negative", {"shape": [-1]})
    tensor_case("shape float", {"shape": [1.0]})
    tensor_case("shape string", {"shape": "1"})
    tensor_case("shape empty", {"shape": []})
    tensor_case("shape bool", {"shape": [True]})
    tensor_case("shape huge", {"shape": [2**62]}, frozenset({400, 413, 422}))
    tensor_case("shape over row limit", {"shape": [MAX_ROWS + 1]}, TOO_LARGE)
    tensor_case("datatype unknown", {"datatype": "FP128"})
    tensor_case("datatype lower case", {"datatype": "int64"})
    tensor_case("datatype missing", {"datatype": None})
    tensor_case("FP64 with strings", {"datatype": "FP64", "data": [CANARY]})
    tensor_case("INT64 with floats", {"datatype": "INT64", "data": [BIG]})
    tensor_case("INT64 with bools", {"datatype": "INT64", "data": [True]})
    tensor_case("BOOL with ints", {"datatype": "BOOL", "data": [1]})
    tensor_case("BYTES with numbers", {"datatype": "BYTES", "data": [41]})
    tensor_case("UINT8 negative", {"datatype": "UINT8", "data": [-1]})
    tensor_case("INT8 overflow", {"datatype": "INT8", "data": [200]})
    tensor_case("INT64 with null", {"datatype": "INT64", "data": [None]})
    tensor_case("FP64 into long column", {"datatype": "FP64", "data": [41.0]})
    tensor_case("name missing", {"name": None})
    tensor_case("name empty", {"name": ""})
    tensor_case("name number", {"name": 7})
    tensor_case("data missing", {"data": None})
    tensor_case("data object", {"data": {"v": 1}})
    tensor_case("data nested ragged", {"shape": [1, 1], "data": [[41, 42]]})
    tensor_case("data nested too deep", {"shape": [1, 1], "data": [[[41]]]})
    tensor_case("parameters not object", {"parameters": [1]})
    tensor_case("column tensor 2 wide", {"shape": [1, 2], "data": [41, 42]})
    doc = oip([ROW])
    doc["inputs"][1]["shape"] = [2]
    doc["inputs"][1]["data"] = [1.0, 2.0]
    add(Case("oip columns of different lengths", JSON, dumps(doc), UNPROCESSABLE, "oip"))
    for label, document in (
        ("inputs missing", {"id": "x"}),
        ("inputs empty", {"inputs": []}),
        ("inputs object", {"inputs": {"name": "age"}}),
        ("input not object", {"inputs": [1]}),
        ("id number", {**oip([ROW]), "id": 5}),
        ("parameters list", {**oip([ROW]), "parameters": [1]}),
    ):
        add(Case(f"oip {label}", JSON, dumps(document), BAD_REQUEST, "oip"))
    matrix = {
        "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]
    }
    add(Case("oip matrix narrower than signature", JSON, dumps(matrix), UNPROCESSABLE, "oip"))
    wide = {
        "inputs": [
            {
                "name": "x",
                "shape": [1, 6],
                "datatype": "FP64",
                "data": [41.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            }
        ]
    }
    add(Case("oip FP64 matrix into string columns", JSON, dumps(wide), UNPROCESSABLE, "oip"))

    # Media types and CSV.
    body = dumps(records([ROW]))
    for content_type in (
        None,
        "",
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "image/png",
    ):
        add(Case(f"media type {content_type!r}", content_type, body, frozenset({415})))
    for label, csv_body, expected in (
        ("NUL byte", b"age,income\n1,\x002\n", MALFORMED),
        ("unclosed quote", b'age,income\n"1,2\n', MALFORMED),
        ("ragged", b"age,income,city,member,signup,rating\n1,2\n", UNPROCESSABLE),
        ("empty", b"", BAD_REQUEST),
        (
            "duplicate header",
            b"age,age,income,city,member,signup,rating\n1,1,2,x,true,2024-01-01,1\n",
            UNPROCESSABLE,
        ),
        (
            "text in a long",
            b"age,income,city,member,signup,rating\nzq7-canary-value,2,x,true,2024-01-01,1\n",
            UNPROCESSABLE,
        ),
        (
            "float in a long",
            b"age,income,city,member,signup,rating\n1.5,2,x,true,2024-01-01,1\n",
            UNPROCESSABLE,
        ),
        (
            "missing column",
            b"income,city,member,signup,rating\n2,x,true,2024-01-01,1\n",
            UNPROCESSABLE,
        ),
        (
            "empty required cell",
            b"age,income,city,member,signup,rating\n,2,x,true,2024-01-01,1\n",
            UNPROCESSABLE,
        ),
        ("huge field", b"age,income\n" + b"9" * 200_000 + b",1\n", MALFORMED),
        (
            "nan in a double",
            b"age,income,city,member,signup,rating\n1,nan,x,true,2024-01-01,1\n",
            UNPROCESSABLE,
        ),
    ):
        add(Case(f"csv {label}", "text/csv", csv_body, expected, forbidden=(CANARY,)))
    return cases


CASES: list[Case] = build()
