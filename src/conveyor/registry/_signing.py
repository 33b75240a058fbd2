"""What the store signs, and how: HMAC-SHA256 with the project's signing key.

- A model file: over the sha256 of its manifest and of the file itself, at registration
  of an object conveyor serialised. The signature is kept in the version's row (tag
  ``conveyor.signature``), the key in the metadata store: bytes placed in the artifact
  store by anyone else, or rows pointing at them, carry no valid signature.
- An evaluation: over the report's digest, the version it evaluated (and its baseline)
  and whether it passed, so an edited report or a flipped ``passed`` no longer verifies.

Signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from typing import Any

from ..core import InvalidValueError, canonical_json

SIGNATURE_TAG = "conveyor.signature"
RESERVED_TAG_PREFIX = "conveyor."


def _mac(key: bytes, message: Mapping[str, Any]) -> str:
    return hmac.new(key, canonical_json(dict(message)), hashlib.sha256).hexdigest()


def model_signature(key: bytes, *, manifest_sha256: str, file_sha256: str) -> str:
    """The store's signature of a model version's manifest and file."""
    return _mac(key, {"kind": "conveyor-model", "manifest": manifest_sha256, "file": file_sha256})


def evaluation_signature(
    key: bytes,
    *,
    model: str,
    version: int,
    baseline_version: int | None,
    passed: bool,
    digest: str,
) -> str:
    """The store's signature of an evaluation of ``model`` version ``version``."""
    return _mac(
        key,
        {
            "kind": "conveyor-evaluation",
            "model": model,
            "version": version,
            "baseline_version": baseline_version,
            "passed": bool(passed),
            "digest": digest,
        },
    )


def matches(expected: str, actual: str) -> bool:
    """Whether two signatures are equal (constant time)."""
    return hmac.compare_digest(expected.encode(), actual.encode())


def report_digest(report: Mapping[str, Any]) -> str:
    """sha256 of a report's canonical JSON, numbers taken as doubles.

    PostgreSQL's JSONB writes numbers back its own way (``1e+16`` returns as an integer,
    ``1.0`` may keep or lose its point), so every number is hashed as the double it
    stands for: the digest of a report read back equals the digest of the one written.

    Raises:
        InvalidValueError: the report is not JSON (NaN, infinity, a non-string key, an
            object JSON cannot hold).
    """
    return hashlib.sha256(canonical_json(_as_doubles(report, "report"))).hexdigest()


def _as_doubles(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise _not_json(where, value)
        return number + 0.0  # -0.0 becomes 0.0
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _not_json(f"{where} key", key)
            out[key] = _as_doubles(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_as_doubles(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise _not_json(where, value)


def check_report(report: Any) -> dict[str, Any]:
    """``report`` if it is a JSON object the store can keep exactly, else an error."""
    if not isinstance(report, Mapping):
        raise InvalidValueError(
            f"An evaluation report must be a JSON object (a dict). Got a {type(report).__name__}.",
            hint="Pass the report as a dict of JSON values.",
        )
    report_digest(report)  # raises on anything that is not JSON
    return dict(report)


def _not_json(where: str, value: Any) -> InvalidValueError:
    return InvalidValueError(
        f"The evaluation {where} is not a JSON value: {value!r} ({type(value).__name__}).",
        hint="Use str, int, float, bool, None, lists and dicts with string keys; NaN and "
        "infinity are not JSON (write None, or a string, instead).",
    )
