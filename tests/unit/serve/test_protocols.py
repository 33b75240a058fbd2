"""The wire protocols: every payload form to the same Batch, answers that parse back, and a
hostile corpus that only ever gets a clean 4xx."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_payloads as hostile
from conveyor.serve.app._protocols import Parsed, parse_invocations, parse_kserve_v1, parse_oip
from conveyor.serve.app._render import (
    oip_metadata,
    render_error,
    render_kserve_v1,
    render_mlflow,
    render_oip,
)
from conveyor.serve.runtime import FieldError, InputError

SIG = hostile.SIGNATURE
ROWS = [hostile.ROW, {**hostile.ROW, "age": 7, "income": 1, "city": "Oslo", "member": False}]
NAMES = list(hostile.ROW)


def dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


def same(parsed: Parsed, reference: Parsed) -> None:
    assert list(parsed.batch.columns) == list(reference.batch.columns)
    assert parsed.batch.rows == reference.batch.rows
    for name, column in reference.batch.columns.items():
        assert parsed.batch.columns[name].dtype == column.dtype, name
        assert parsed.batch.columns[name].tolist() == column.tolist(), name


def mlflow(document: Any, content_type: str = "application/json") -> Parsed:
    body = document if isinstance(document, bytes) else dumps(document)
    return parse_invocations(body, content_type, SIG, max_rows=hostile.MAX_ROWS)


def csv_cell(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


REFERENCE = mlflow(hostile.split(ROWS))


@pytest.mark.parametrize(
    ("label", "parse"),
    [
        ("records", lambda: mlflow(hostile.records(ROWS))),
        ("instances records", lambda: mlflow({"instances": ROWS})),
        ("inputs records", lambda: mlflow({"inputs": ROWS})),
        ("inputs columns", lambda: mlflow({"inputs": {n: [r[n] for r in ROWS] for n in NAMES}})),
        ("instances rows", lambda: mlflow({"instances": [[r[n] for n in NAMES] for r in ROWS]})),
        (
            "split without columns",
            lambda: mlflow({"dataframe_split": {"data": [[r[n] for n in NAMES] for r in ROWS]}}),
        ),
        (
            "split with index and extras",
            lambda: mlflow(
                {
                    "dataframe_split": {
                        "index": [0, 1],
                        "columns": ["extra", *reversed(NAMES)],
                        "data": [[{"any": 1}, *[r[n] for n in reversed(NAMES)]] for r in ROWS],
                    }
                }
            ),
        ),
        (
            "csv",
            lambda: mlflow(
                (
                    ",".join(NAMES)
                    + "\n"
                    + "".join(",".join(csv_cell(r[n]) for n in NAMES) + "\n" for r in ROWS)
                ).encode(),
                "text/csv; charset=utf-8",
            ),
        ),
        ("oip pd", lambda: parse_oip(dumps(hostile.oip(ROWS)), SIG, max_rows=100)),
        ("kserve records", lambda: parse_kserve_v1(dumps({"instances": ROWS}), SIG, max_rows=100)),
        (
            "kserve rows",
            lambda: parse_kserve_v1(
                dumps({"instances": [[r[n] for n in NAMES] for r in ROWS]}), SIG, max_rows=100
            ),
        ),
    ],
)
def test_every_payload_form_gives_the_same_batch(label: str, parse: Any) -> None:
    same(parse(), REFERENCE)


def test_the_reference_batch_is_typed() -> None:
    kinds = {n: c.dtype.kind for n, c in REFERENCE.batch.columns.items()}
    assert kinds == {
        "age": "i",
        "income": "f",
        "city": "O",
        "member": "b",
        "signup": "M",
        "rating": "i",
    }
    assert REFERENCE.protocol == "mlflow" and REFERENCE.params == {}


def test_params_and_request_ids_are_carried() -> None:
    parsed = mlflow({**hostile.records(ROWS), "params": {"threshold": 0.5}})
    assert parsed.params == {"threshold": 0.5}
    doc = hostile.oip(ROWS)
    doc["parameters"]["top_k"] = 3
    parsed = parse_oip(dumps(doc), SIG, max_rows=100)
    assert (parsed.protocol, parsed.request_id, parsed.params) == ("oip", "req-1", {"top_k": 3})
    assert parse_kserve_v1(dumps({"instances": ROWS}), SIG, max_rows=100).protocol == "kserve_v1"


def test_oip_matrix_input_maps_through_the_signature_order() -> None:
    signature = {"inputs": [{"name": "a", "type": "double"}, {"name": "b", "type": "double"}]}
    body = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    parsed = parse_oip(dumps(body), signature, max_rows=10)
    assert parsed.batch.columns["b"].tolist() == [2.0, 4.0]
    nested = {"inputs": [{**body["inputs"][0], "data": [[1, 2], [3, 4]]}]}
    same(parse_oip(dumps(nested), signature, max_rows=10), parsed)
    ints = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}
    longs = {"inputs": [{"name": "a", "type": "long"}, {"name": "b", "type": "long"}]}
    assert parse_oip(dumps(ints), longs, max_rows=10).batch.columns["a"].tolist() == [1]
    floats = {"inputs": [{**ints["inputs"][0], "datatype": "FP64"}]}
    with pytest.raises(InputError) as caught:  # an FP64 tensor is floats, even if written 1
        parse_oip(dumps(floats), longs, max_rows=10)
    assert caught.value.errors[0].field.startswith("inputs[0].data")


def test_duplicate_keys_are_found_when_the_fast_count_cannot_settle_it() -> None:
    spaced = b'{"dataframe_records" : [{"age": 1, "income": 2.0}]}'
    signature = {"inputs": [{"name": "age", "type": "long"}, {"name": "income", "type": "double"}]}
    assert parse_invocations(spaced, "application/json", signature, max_rows=5).batch.rows == 1
    quoted = dumps({"dataframe_records": [{"age": 1, "income": 2.0, "note": 'say "hi":'}]})
    assert parse_invocations(quoted, "application/json", signature, max_rows=5).batch.rows == 1
    with pytest.raises(InputError) as caught:
        parse_invocations(
            b'{"dataframe_records": [{"age": 1, "income": 2.0, "age" : 3}]}',
            "application/json",
            signature,
            max_rows=5,
        )
    assert (caught.value.status, caught.value.errors[0].field) == (400, "age")


def test_no_signature_takes_named_columns_and_refuses_positions() -> None:
    parsed = parse_invocations(
        dumps({"dataframe_records": [{"a": 1, "b": "x"}, {"b": "y", "c": 2.5}]}),
        "application/json",
        None,
        max_rows=5,
    )
    assert list(parsed.batch.columns) == ["a", "b", "c"]
    assert np.isnan(parsed.batch.columns["a"][1])
    with pytest.raises(InputError) as caught:
        parse_invocations(dumps({"instances": [[1, 2]]}), "application/json", None, max_rows=5)
    assert "no signature" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "predictions",
    [
        np.array([1, 0, 1]),
        np.array([0.5, np.nan, np.inf]),
        np.array(["yes", "no", "yes"], dtype=object),
        np.array(["yes", "no", "yes"]),
        np.array([True, False, True]),
        np.array([[0.1, 0.9], [np.nan, 0.5], [-np.inf, 1.0]], dtype=np.float32),
        np.array([1.5, None, "x"], dtype=object),
        np.array([np.float32(1.5), np.int64(2), b"raw"], dtype=object),
        np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[ns]"),
        np.array([1, 2, 3], dtype=">i4"),
    ],
)
def test_answers_are_valid_json_with_ids_and_version(predictions: np.ndarray) -> None:
    ids = ["p1", "p2", "p3"]
    for body in (
        render_mlflow(predictions, ids=ids, version=3),
        render_kserve_v1(predictions, ids=ids, version=3),
    ):
        answer = json.loads(body, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
        assert answer["model_version"] == "3" and answer["prediction_ids"] == ids
        assert len(answer["predictions"]) == 3
    body = render_oip(predictions, model="m", version=3, ids=ids, request_id="r1")
    answer = json.loads(body, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("m", "3", "r1")
    (output,) = answer["outputs"]
    assert output["shape"] == list(predictions.shape)
    assert len(output["data"]) == predictions.size
    assert answer["parameters"]["prediction_ids"] == ids


def test_nan_and_inf_become_null() -> None:
    body = render_mlflow(np.array([1.0, np.nan, -np.inf]), ids=["a", "b", "c"], version=1)
    assert orjson.loads(body)["predictions"] == [1.0, None, None]
    answer = orjson.loads(
        render_oip(np.array([[np.nan]]), model="m", version=1, ids=["a"], request_id=None)
    )
    assert "id" not in answer and answer["outputs"][0] == {
        "name": "predict",
        "datatype": "FP64",
        "shape": [1, 1],
        "data": [None],
    }


def test_errors_render_in_each_protocols_shape() -> None:
    error = InputError([FieldError("age", "expected a long"), FieldError("city", "missing")])
    body = orjson.loads(render_error(error, "mlflow"))
    assert body["error_code"] == "BAD_REQUEST" and body["message"].startswith("age: expected")
    assert body["errors"] == [
        {"field": "age", "message": "expected a long"},
        {"field": "city", "message": "missing"},
    ]
    too_many = InputError([FieldError("instances", "too many")], status=413)
    assert orjson.loads(render_error(too_many, "mlflow"))["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    for protocol in ("oip", "kserve_v1"):
        body = orjson.loads(render_error(error, protocol))
        assert body["error"].startswith("age:") and len(body["errors"]) == 2


def test_oip_metadata_comes_from_the_signature() -> None:
    meta = orjson.loads(oip_metadata("m", ["1", "2"], SIG))
    assert meta["name"] == "m" and meta["versions"] == ["1", "2"]
    types = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert types["age"] == "INT64" and types["city"] == "BYTES" and types["member"] == "BOOL"
    assert meta["outputs"][0]["datatype"] == "FP64"
    assert orjson.loads(oip_metadata("m", [], None))["inputs"] == []


# --- the hostile corpus -------------------------------------------------------------------


def parse(case: hostile.Case) -> Parsed:
    if case.endpoint == "oip":
        return parse_oip(case.body, SIG, max_rows=hostile.MAX_ROWS)
    if case.endpoint == "kserve_v1":
        return parse_kserve_v1(case.body, SIG, max_rows=hostile.MAX_ROWS)
    return parse_invocations(case.body, case.content_type, SIG, max_rows=hostile.MAX_ROWS)


def test_the_corpus_is_large_and_named_uniquely() -> None:
    names = [case.name for case in hostile.CASES]
    assert len(names) >= 200
    assert len(set(names)) == len(names)
    assert {case.endpoint for case in hostile.CASES} == {"mlflow", "oip", "kserve_v1"}


@pytest.mark.parametrize("case", hostile.CASES, ids=lambda case: case.name[:60])
def test_every_hostile_payload_gets_a_clean_4xx_naming_a_field(case: hostile.Case) -> None:
    with pytest.raises(InputError) as caught:
        parse(case)
    error = caught.value
    assert error.status in case.expected, (error.status, error.errors)
    assert error.errors and all(e.field for e in error.errors)
    protocol = {"mlflow": "mlflow", "oip": "oip", "kserve_v1": "kserve_v1"}[case.endpoint]
    body = render_error(error, protocol).decode()
    for secret in case.forbidden:
        assert secret not in body
    for dump in ('"type":', "'type':", '"required":', "'required':", "'long'", '"long"'):
        assert dump not in body  # the signature is never dumped
    for e in error.errors:  # no message lists the signature's columns
        assert sum(name in e.message for name in hostile.REQUIRED) <= 1, e.message
        assert len(e.message) < 400 and len(e.field) < 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/csv"]))
def test_arbitrary_bytes_raise_nothing_but_input_error(body: bytes, content_type: str) -> None:
    for call in (
        lambda: parse_invocations(body, content_type, SIG, max_rows=5),
        lambda: parse_oip(body, SIG, max_rows=5),
        lambda: parse_kserve_v1(body, None, max_rows=5),
    ):
        try:
            call()
        except InputError as error:
            assert 400 <= error.status < 500 and error.errors


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(NAMES + ["FP64", "INT64", "BYTES", "BOOL", "pd", "columns", "data"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    *NAMES,
                    "dataframe_split",
                    "dataframe_records",
                    "instances",
                    "inputs",
                    "columns",
                    "data",
                    "name",
                    "shape",
                    "datatype",
                    "parameters",
                    "content_type",
                    "params",
                    "id",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values, signed=st.booleans())
def test_arbitrary_json_raises_nothing_but_input_error(document: Any, signed: bool) -> None:
    body = dumps(document)
    signature = SIG if signed else None
    for call in (
        lambda: parse_invocations(body, "application/json", signature, max_rows=5),
        lambda: parse_oip(body, signature, max_rows=5),
        lambda: parse_kserve_v1(body, signature, max_rows=5),
    ):
        try:
            parsed = call()
        except InputError as error:
            assert 400 <= error.status < 500 and error.errors
        else:
            assert parsed.batch.rows >= 1
            assert all(len(c) == parsed.batch.rows for c in parsed.batch.columns.values())
