"""The model manifest, ``conveyor-model.json``: what a version's directory holds.

A version is a directory artifact of exactly two files: this manifest and one model file.
The manifest is validated by a strict schema before anything else happens: unknown keys
are refused (there is no loader module, no code directory, no second file), the flavor
comes from an allowlist, and the model file is a plain name inside the version's
directory, never a path or a URI. Nothing a manifest says is ever imported: an estimator
class is chosen from a fixed table by name, and only for the formats that need one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core import UntrustedModelError

MANIFEST_NAME = "conveyor-model.json"
MANIFEST_FORMAT: Literal["conveyor-model/1"] = "conveyor-model/1"
MAX_MANIFEST_BYTES = 64 * 1024
Flavor = Literal["sklearn", "lightgbm", "xgboost", "pickle"]
FLAVORS: tuple[str, ...] = ("sklearn", "lightgbm", "xgboost", "pickle")

# The estimator classes each native format restores, by name: a table, not an import.
ESTIMATORS: Mapping[str, tuple[str, ...]] = {
    "lightgbm": ("LGBMClassifier", "LGBMRegressor", "LGBMRanker", "Booster"),
    "xgboost": ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"),
}

_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LIBRARY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}")

Label = str | int | float | bool


class ModelManifest(BaseModel):
    """The manifest of one model version (``conveyor-model.json``).

    Attributes:
        format: ``conveyor-model/1``.
        flavor: How the file is stored: ``sklearn`` (skops), ``lightgbm`` (LightGBM's text
            format), ``xgboost`` (XGBoost's JSON), ``pickle`` (loads only if signed).
        file: The model file's name inside the version's directory (a plain name).
        sha256: The model file's sha256.
        size: The model file's size in bytes.
        estimator: For ``lightgbm`` and ``xgboost``: the class restored, from a fixed list.
        classes: For a LightGBM classifier: its class labels, in order.
        model_type: The saved object's class, for people to read (never imported).
        libraries: Versions of the libraries that saved it, for people to read.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    format: Literal["conveyor-model/1"]
    flavor: Flavor
    file: str
    sha256: str
    size: int = Field(ge=0)
    estimator: str | None = None
    classes: list[Label] | None = Field(default=None, max_length=100_000)
    model_type: str = Field(default="", max_length=256)
    libraries: dict[str, str] = Field(default_factory=dict, max_length=16)

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _FILE.fullmatch(value) or ".." in value or value == MANIFEST_NAME:
            raise ValueError(
                "must be the plain name of a file inside the version's directory (letters, "
                "digits, '_', '.', '-'; no '/', '..', absolute path or URI)"
            )
        return value

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not _DIGEST.fullmatch(value):
            raise ValueError("must be 64 lowercase hex digits")
        return value

    @field_validator("model_type")
    @classmethod
    def _model_type(cls, value: str) -> str:
        if value and not _DOTTED.fullmatch(value):
            raise ValueError("must be a dotted class name such as 'sklearn.svm.SVC'")
        return value

    @field_validator("libraries")
    @classmethod
    def _libraries(cls, value: dict[str, str]) -> dict[str, str]:
        for name, version in value.items():
            if not _LIBRARY.fullmatch(name) or not _VERSION.fullmatch(version):
                raise ValueError("must map library names to version strings")
        return value

    @model_validator(mode="after")
    def _estimator_fits_the_flavor(self) -> ModelManifest:
        allowed = ESTIMATORS.get(self.flavor)
        if allowed is None:
            if self.estimator is not None:
                raise ValueError(f"flavor {self.flavor!r} takes no estimator")
        elif self.estimator not in allowed:
            raise ValueError(
                f"flavor {self.flavor!r} needs an estimator from {list(allowed)}; "
                f"got {self.estimator!r}"
            )
        if self.classes is not None and self.flavor != "lightgbm":
            raise ValueError(f"flavor {self.flavor!r} takes no classes")
        return self

    def to_bytes(self) -> bytes:
        """The manifest as stored: JSON with sorted keys, so equal manifests are equal bytes."""
        from ..core import canonical_json

        return canonical_json(self.model_dump(mode="json"))


def parse_manifest(data: bytes, *, model: str) -> ModelManifest:
    """Validate a stored manifest's bytes against the schema.

    Raises:
        UntrustedModelError: too large, not JSON, or outside the schema (every problem named).
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise _refused(model, f"it has {len(data):,} bytes, over the {MAX_MANIFEST_BYTES:,} limit")
    try:
        return ModelManifest.model_validate_json(data)
    except ValidationError as exc:
        raise _refused(model, "; ".join(_describe(err) for err in exc.errors())) from None


def _describe(err: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "the manifest"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r} (no loader, code or extra fields are allowed)"
    if err["type"] == "literal_error" and err["loc"] == ("flavor",):
        return f"flavor {err.get('input')!r} is not one of {list(FLAVORS)}"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"


def _refused(model: str, why: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"Refusing to load {model}: its manifest ({MANIFEST_NAME}) is invalid: {why}. "
        "Nothing in it was used.",
        hint="A manifest holds only format, flavor, file, sha256, size, estimator, classes, "
        "model_type and libraries. Register the model again with "
        "conveyor.registry.register_model.",
        model=model,
    )
