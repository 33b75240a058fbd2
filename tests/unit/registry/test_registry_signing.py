"""What the store signs: report digests that survive PostgreSQL's JSONB, and signatures
that change with everything they cover."""

from __future__ import annotations

import math
from typing import Any

import pytest

from conveyor.core import InvalidValueError
from conveyor.registry._signing import (
    check_report,
    evaluation_signature,
    matches,
    model_signature,
    report_digest,
)

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"n": 1e16}, {"n": 10000000000000000}),  # JSONB prints 1e16 as an integer
        ({"x": 1.0}, {"x": 1}),
        ({"x": -0.0}, {"x": 0.0}),
        ({"b": 1, "a": [1.5, {"z": None}]}, {"a": [1.5, {"z": None}], "b": 1.0}),
        ({"t": (1, 2)}, {"t": [1, 2]}),
    ],
)
def test_equal_reports_have_equal_digests(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert report_digest(a) == report_digest(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"auc": 0.91}, {"auc": 0.9100000000000001}),
        ({"passed": True}, {"passed": 1}),
        ({"x": "1"}, {"x": 1}),
        ({"x": None}, {}),
    ],
)
def test_different_reports_have_different_digests(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert report_digest(a) != report_digest(b)


@pytest.mark.parametrize(
    "report",
    [{"auc": math.nan}, {"x": [math.inf]}, {1: "a"}, {"x": object()}, {"x": b"bytes"}],
)
def test_a_report_that_is_not_json_is_refused(report: dict[Any, Any]) -> None:
    with pytest.raises(InvalidValueError, match="not a JSON value"):
        check_report(report)


def test_a_report_must_be_an_object() -> None:
    with pytest.raises(InvalidValueError, match="must be a JSON object"):
        check_report([1, 2])


def test_an_evaluation_signature_covers_every_field() -> None:
    base: dict[str, Any] = {
        "model": "churn",
        "version": 3,
        "baseline_version": 2,
        "passed": True,
        "digest": "a" * 64,
    }
    signed = evaluation_signature(KEY, **base)
    assert matches(signed, evaluation_signature(KEY, **base))
    for field, other in [
        ("model", "fraud"),
        ("version", 4),
        ("baseline_version", None),
        ("passed", False),
        ("digest", "b" * 64),
    ]:
        assert not matches(signed, evaluation_signature(KEY, **{**base, field: other})), field
    assert not matches(signed, evaluation_signature(bytes(32), **base))


def test_a_model_signature_covers_the_manifest_and_the_file() -> None:
    signed = model_signature(KEY, manifest_sha256="a" * 64, file_sha256="b" * 64)
    assert len(signed) == 64
    assert signed != model_signature(KEY, manifest_sha256="b" * 64, file_sha256="a" * 64)
    assert signed != model_signature(KEY, manifest_sha256="a" * 64, file_sha256="c" * 64)
    assert signed != evaluation_signature(
        KEY, model="m", version=1, baseline_version=None, passed=True, digest="a" * 64
    )
