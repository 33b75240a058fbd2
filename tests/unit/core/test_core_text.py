"""Core helpers users meet through messages and records: content hashes, canonical JSON,
name suggestions, path checks, durations, URL redaction and the clock."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import UTC
from pathlib import Path

import pytest

from conveyor.core import (
    InvalidNameError,
    check_relative_path,
    did_you_mean,
    now_ms,
    parse_digest,
    parse_duration,
    redact_url,
    utcnow,
    validate_name,
)
from conveyor.core._hashing import (
    CHUNK,
    canonical_json,
    sha256_bytes,
    sha256_chunks,
    sha256_file,
    sha256_stream,
)

# Spans chunk boundaries: one full chunk, then a partial one.
BIG = bytes(range(256)) * (CHUNK // 256) + b"tail"


@pytest.mark.parametrize("data", [b"", b"abc", BIG], ids=["empty", "small", "over-a-chunk"])
def test_every_way_of_hashing_agrees_with_hashlib(tmp_path: Path, data: bytes) -> None:
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_bytes(data) == expected
    assert sha256_stream(io.BytesIO(data)) == (expected, len(data))
    (tmp_path / "blob").write_bytes(data)
    assert sha256_file(tmp_path / "blob") == (expected, len(data))
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert sha256_chunks(pieces) == expected


def test_canonical_json_is_sorted_compact_and_keeps_unicode() -> None:
    value = {"b": [1, 2.5, None], "a": {"z": True, "é": "ünï"}}
    assert canonical_json(value) == '{"a":{"z":true,"é":"ünï"},"b":[1,2.5,null]}'.encode()


@pytest.mark.parametrize("value", [None, 42, b"ab" * 32])
def test_a_digest_that_is_not_text_is_an_invalid_name(value: object) -> None:
    with pytest.raises(InvalidNameError, match="not a sha256 digest") as info:
        parse_digest(value)  # type: ignore[arg-type]
    assert "conveyor artifacts list" in str(info.value)


@pytest.mark.parametrize(
    ("bad", "suggestion"),
    [
        ("my model v2", "my-model-v2"),
        ("..hidden", "hidden"),
        ("a..b", "a.b"),
        ("", "my-name"),
        ("-x-", "x"),
    ],
)
def test_an_invalid_name_suggests_a_valid_one(bad: str, suggestion: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        validate_name(bad, what="model name")
    assert info.value.hint == f"For example: '{suggestion}'."
    assert validate_name(suggestion) == suggestion  # the suggestion itself is accepted
    assert info.value.value == bad  # type: ignore[attr-defined]


def test_a_name_that_is_not_text_is_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidNameError, match="The step name 7 is not valid"):
        validate_name(7, what="step name")  # type: ignore[arg-type]


def test_a_path_encoded_over_and_over_is_refused() -> None:
    name = "x"
    for _ in range(10):
        name = name.replace("%", "%25") if "%" in name else "%78"
    with pytest.raises(InvalidNameError, match="URL-encoded too many times") as info:
        check_relative_path(name)
    assert info.value.hint == "Pass a plain relative path."


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a\x07b.txt", "contains a control character"),
        ("a\\b", "contains a backslash"),
        ("s3:bucket/key", "has a URL scheme"),
        ("x/" + "y" * 256, "is too long"),
    ],
)
def test_a_refused_path_says_why(name: str, reason: str) -> None:
    with pytest.raises(InvalidNameError, match=reason) as info:
        check_relative_path(name, what="member path")
    assert "member path" in str(info.value) and "reports/summary.json" in str(info.value)


@pytest.mark.parametrize("name", [None, 3, b"x"])
def test_a_path_that_is_not_text_is_refused(name: object) -> None:
    with pytest.raises(InvalidNameError, match="must be a non-empty string"):
        check_relative_path(name)  # type: ignore[arg-type]


def test_a_path_of_only_separators_names_no_file() -> None:
    with pytest.raises(InvalidNameError, match="names no file"):
        check_relative_path(".//./")


def test_did_you_mean_offers_the_closest_choice_or_nothing() -> None:
    assert did_you_mean("champoin", ["challenger", "champion"]) == " Did you mean 'champion'?"
    assert did_you_mean("zzz", ["champion"]) == ""
    assert did_you_mean("x", []) == ""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h 30m", 5400.0), ("1.5h", 5400.0), ("0.5ms", 0.0005), (" 2m ", 120.0), (0, 0.0)],
)
def test_more_duration_forms(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1h30", "h", "1hm", "1 h x"])
def test_a_duration_with_a_dangling_part_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="such as '30m', '1h30m' or '500ms'. Got"):
        parse_duration(text, what="lease")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db/conveyor", "postgresql://u:***@db/conveyor"),
        ("postgresql://:pw@db:5432/x", "postgresql://:***@db:5432/x"),
        ("postgresql://u@db:5432/x", "postgresql://u@db:5432/x"),
        ("redis://default:p%40ss@cache:6379/0", "redis://default:***@cache:6379/0"),
    ],
)
def test_redact_url_never_shows_a_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_clock_is_utc_and_in_milliseconds() -> None:
    before = time.time()
    stamp, now = now_ms(), utcnow()
    after = time.time()
    assert now.tzinfo is UTC
    assert before * 1000 - 1 <= stamp <= after * 1000 + 1
    assert before - 1 <= now.timestamp() <= after + 1
