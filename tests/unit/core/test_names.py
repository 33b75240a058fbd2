from __future__ import annotations

import os
from pathlib import Path

import pytest

from conveyor.core import (
    InvalidNameError,
    check_relative_path,
    parse_digest,
    parse_duration,
    redact_url,
    safe_join,
    sha256_json,
    validate_name,
)

TRAVERSAL = [
    "../x",
    "a/../../x",
    "..\\x",
    "%2e%2e%2fx",
    "%252e%252e%252fx",
    "%2E%2E/x",
    "a/%2e%2e/%2e%2e/x",
    "..;/x",
    ";/../x",
    "#/../x",
    "x\x00.txt",
    "/etc/passwd",
    "file:///etc/passwd",
    "file:x",
    "C:\\x",
    "c:/x",
    "\uff0e\uff0e/x",  # full-width dots fold to '..' under NFKC
    "a/\uff0e\uff0e/\uff0e\uff0e/x",
    "",
    ".",
    "./",
    "a" * 300,
    "x/" * 600,
    "\n/../x",
]


@pytest.mark.parametrize("name", TRAVERSAL)
def test_traversal_vectors_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidNameError):
        safe_join(tmp_path, name)


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(InvalidNameError, match="outside its root"):
        safe_join(root, "link/secret")


def test_plain_relative_paths_are_joined(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/./b.txt") == tmp_path.resolve() / "a" / "b.txt"
    assert str(check_relative_path("reports/summary.json")) == "reports/summary.json"


@pytest.mark.parametrize("name", ["churn", "churn-v2", "a.b_c", "X1"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "..", "a..b", "x" * 129, "é"])
def test_invalid_names_suggest_a_fix(name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        validate_name(name, what="model name")
    assert "model name" in str(info.value) and "For example" in str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2.5s", 2.5),
        (10, 10.0),
        ("1d", 86400.0),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30 minutes", "m30", "", "1x", "-5s", True, -1])
def test_bad_durations_name_the_option(text: object) -> None:
    with pytest.raises(ValueError, match="timeout"):
        parse_duration(text, what="timeout")  # type: ignore[arg-type]


def test_digests() -> None:
    hexd = "ab" * 32
    assert parse_digest(f"sha256:{hexd}") == hexd
    for bad in ["abc", "sha256:" + "g" * 64, "AB" * 32, "sha1:" + hexd]:
        with pytest.raises(InvalidNameError, match="sha256"):
            parse_digest(bad)


def test_canonical_json_hash_ignores_key_order() -> None:
    assert sha256_json({"a": 1, "b": [1, 2]}) == sha256_json({"b": [1, 2], "a": 1})


def test_redact_url_hides_passwords_only() -> None:
    assert redact_url("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
