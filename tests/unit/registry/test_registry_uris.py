"""Model URIs: MLflow's forms parse; anything else is one clear error."""

from __future__ import annotations

import pytest

from conveyor.core import InvalidValueError
from conveyor.registry import ModelRef, parse_model_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/churn@champion", ModelRef("churn", alias="champion")),
        ("models:/churn/3", ModelRef("churn", version=3)),
        ("models:/churn", ModelRef("churn")),
        ("models:/churn/latest", ModelRef("churn")),
        ("churn@challenger", ModelRef("churn", alias="challenger")),
        ("churn/12", ModelRef("churn", version=12)),
        ("churn", ModelRef("churn")),
        ("fraud.v2-eu@shadow_1", ModelRef("fraud.v2-eu", alias="shadow_1")),
    ],
)
def test_the_uri_forms_parse(uri: str, expected: ModelRef) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize(
    ("ref", "uri"),
    [
        (ModelRef("churn", version=3), "models:/churn/3"),
        (ModelRef("churn", alias="champion"), "models:/churn@champion"),
        (ModelRef("churn"), "models:/churn"),
    ],
)
def test_a_ref_prints_as_its_uri_and_parses_back(ref: ModelRef, uri: str) -> None:
    assert ref.uri == str(ref) == uri
    assert parse_model_uri(uri) == ref


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("", ""),
        ("models:/", ""),
        ("models://churn/1", ""),
        ("runs:/abc/model", ""),
        ("s3://bucket/churn", ""),
        ("churn/0", "whole number from 1"),
        ("churn/-1", "whole number from 1"),
        ("churn/1.5", "whole number from 1"),
        ("churn/٣", "whole number from 1"),
        ("churn/3/4", ""),
        ("churn@", ""),
        ("churn@a@b", ""),
        ("churn/3@champion", ""),
        ("../churn", ""),
        ("churn@../x", ""),
        ("churn@champ ion", "alias"),
        ("ch urn", "model name"),
        ("/churn", ""),
        ("churn\x00", "model name"),
    ],
)
def test_anything_else_is_refused_with_the_forms(uri: str, why: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_model_uri(uri)
    assert "'models:/NAME@ALIAS', 'models:/NAME/VERSION' or 'NAME'" in info.value.message
    assert why in info.value.message
    assert info.value.hint and "models:/churn@champion" in info.value.hint


def test_a_non_string_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="must be a string"):
        parse_model_uri(3)  # type: ignore[arg-type]
