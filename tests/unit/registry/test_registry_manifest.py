"""The model manifest's schema: exactly the known keys, a flavor from the allowlist, a
plain file name inside the version's directory, and nothing that names code (S03's
schema half; the end-to-end probe, with imports and file opens watched, is in
tests/integration/registry/test_registry_s03.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.core import UntrustedModelError
from conveyor.registry import MANIFEST_NAME, ModelManifest, parse_manifest

GOOD: dict[str, Any] = {
    "format": "conveyor-model/1",
    "flavor": "sklearn",
    "file": "model.skops",
    "sha256": "ab" * 32,
    "size": 1234,
    "model_type": "sklearn.linear_model._logistic.LogisticRegression",
    "libraries": {"scikit-learn": "1.9.1", "skops": "0.16.0"},
}


def manifest(**changes: Any) -> bytes:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not DROP}).encode()


DROP = object()


def refused(data: bytes) -> str:
    with pytest.raises(UntrustedModelError) as info:
        parse_manifest(data, model="models:/churn/1")
    message = info.value.message
    assert message.startswith(f"Refusing to load models:/churn/1: its manifest ({MANIFEST_NAME})")
    assert "\n" not in message
    return message


def test_a_valid_manifest_parses_and_round_trips() -> None:
    parsed = parse_manifest(manifest(), model="models:/churn/1")
    assert (parsed.flavor, parsed.file, parsed.size) == ("sklearn", "model.skops", 1234)
    assert parse_manifest(parsed.to_bytes(), model="m") == parsed
    assert parsed.to_bytes() == ModelManifest.model_validate(GOOD).to_bytes()  # canonical


def test_native_formats_name_their_estimator_from_a_fixed_list() -> None:
    lgbm = parse_manifest(
        manifest(flavor="lightgbm", file="model.txt", estimator="LGBMClassifier", classes=[0, 1]),
        model="m",
    )
    assert (lgbm.estimator, lgbm.classes) == ("LGBMClassifier", [0, 1])
    xgb = parse_manifest(
        manifest(flavor="xgboost", file="model.json", estimator="XGBRegressor"), model="m"
    )
    assert xgb.estimator == "XGBRegressor"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        # S03: code, loaders and paths out of the version's directory.
        ({"loader_module": "canary_loader"}, "unknown key 'loader_module'"),
        ({"code": "code/"}, "unknown key 'code'"),
        ({"code_paths": ["code/loader.py"]}, "unknown key 'code_paths'"),
        ({"python_function": {"loader_module": "x"}}, "unknown key 'python_function'"),
        ({"file": "../outside.pkl"}, "file: must be the plain name of a file"),
        ({"file": "/etc/passwd"}, "file: must be the plain name"),
        ({"file": "file:///tmp/outside.pkl"}, "file: must be the plain name"),
        ({"file": "file:outside.pkl"}, "file: must be the plain name"),
        ({"file": "s3://bucket/model.pkl"}, "file: must be the plain name"),
        ({"file": "sub/model.skops"}, "file: must be the plain name"),
        ({"file": "..\\outside.pkl"}, "file: must be the plain name"),
        ({"file": "model..skops"}, "file: must be the plain name"),
        ({"file": "%2e%2e%2foutside.pkl"}, "file: must be the plain name"),
        ({"file": MANIFEST_NAME}, "file: must be the plain name"),
        ({"file": ""}, "file: must be the plain name"),
        ({"flavor": "python_function"}, "flavor 'python_function' is not one of"),
        ({"flavor": "onnx"}, "flavor 'onnx' is not one of"),
        ({"flavor": "joblib"}, "flavor 'joblib' is not one of"),
        # The rest of the schema.
        ({"format": "conveyor-model/2"}, "format"),
        ({"format": DROP}, "format"),
        ({"sha256": "xyz"}, "sha256: must be 64 lowercase hex digits"),
        ({"size": -1}, "size"),
        ({"size": "12"}, "size"),
        ({"model_type": "os.system; rm -rf"}, "model_type: must be a dotted class name"),
        ({"libraries": {"x": "1 2"}}, "libraries: must map library names"),
        ({"estimator": "LGBMClassifier"}, "flavor 'sklearn' takes no estimator"),
        ({"flavor": "xgboost", "estimator": "os.system"}, "needs an estimator from"),
        ({"flavor": "xgboost", "estimator": DROP}, "needs an estimator from"),
        ({"flavor": "lightgbm", "estimator": "Pipeline"}, "needs an estimator from"),
        ({"classes": [0, 1]}, "flavor 'sklearn' takes no classes"),
        ({"classes": [{"a": 1}]}, "classes"),
    ],
)
def test_anything_outside_the_schema_is_refused(changes: dict[str, Any], fragment: str) -> None:
    assert fragment in refused(manifest(**changes))


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[1, 2]", b'"model.pkl"', b"\x80\x04K\x01.", b'{"flavor": "sklearn"'],
)
def test_what_is_not_a_json_object_is_refused(data: bytes) -> None:
    refused(data)


def test_every_problem_is_named_at_once() -> None:
    message = refused(manifest(loader_module="x", file="../x.pkl", flavor="pyfunc"))
    for fragment in ("loader_module", "file:", "flavor 'pyfunc'"):
        assert fragment in message


def test_a_huge_manifest_is_refused_before_it_is_parsed() -> None:
    data = manifest(model_type="a" * 10) + b" " * (64 * 1024)
    assert "over the 65,536 limit" in refused(data)
