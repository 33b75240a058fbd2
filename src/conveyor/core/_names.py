"""Validation of user-visible names and containment of paths under a root."""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from ._errors import InvalidNameError

# A name users give to a project, model, dataset, alias, trigger, pipeline or artifact.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_DRIVE = re.compile(r"^[A-Za-z]:")


def validate_name(value: str, *, what: str = "name") -> str:
    """Return ``value`` if it is a valid conveyor name, else raise :class:`InvalidNameError`.

    A name starts with a letter or digit, has at most 128 characters from ``A-Z a-z 0-9 _ . -``
    and is never ``.`` or ``..``.
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise InvalidNameError(
            f"The {what} {value!r} is not valid: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, with no '..'.",
            hint=f"For example: '{_suggest_name(value)}'.",
            value=value,
        )
    return value


def _suggest_name(value: object) -> str:
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "-", str(value)).strip("-._")
    text = re.sub(r"\.{2,}", ".", text)[:128]
    return text or "my-name"


def _decode_until_stable(name: str) -> str:
    for _ in range(8):
        decoded = unquote(name)
        if decoded == name:
            return unicodedata.normalize("NFKC", decoded)
        name = decoded
    raise InvalidNameError(
        f"The path {name!r} is URL-encoded too many times.", hint="Pass a plain relative path."
    )


def _is_dot_segment(part: str) -> bool:
    # '..', '...', and '..;x' (path parameters, which some servers strip) all climb or confuse.
    head = part.split(";", 1)[0]
    return len(head) >= 2 and set(head) == {"."}


def check_relative_path(name: str, *, what: str = "path") -> PurePosixPath:
    """Check that ``name`` is a plain relative path that stays inside any root it is joined to.

    URL-decodes until stable (so ``%252e%252e%252f`` is seen as ``../``), folds full-width
    characters (NFKC), then rejects NUL, backslashes, drive letters, absolute paths, URL
    schemes, and any ``..`` segment. Returns the path with ``.`` segments removed.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"The {what} must be a non-empty string. Got {name!r}.")
    decoded = _decode_until_stable(name)
    reason = None
    if "\x00" in decoded:
        reason = "contains a NUL byte"
    elif "\\" in decoded:
        reason = "contains a backslash"
    elif _DRIVE.match(decoded):
        reason = "starts with a drive letter"
    elif decoded.startswith("/"):
        reason = "is absolute"
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", decoded):
        reason = "has a URL scheme"
    elif any(_is_dot_segment(part) for part in decoded.split("/")):
        reason = "has a '..' segment"
    elif any(ord(ch) < 32 for ch in decoded):
        reason = "contains a control character"
    elif len(decoded) > 1024 or any(len(part) > 255 for part in decoded.split("/")):
        reason = "is too long (1024 characters, 255 per segment at most)"
    if reason:
        raise InvalidNameError(
            f"The {what} {name!r} {reason}; it must be a relative path inside its root.",
            hint="Use a path such as 'reports/summary.json'.",
            value=name,
        )
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if not parts:
        raise InvalidNameError(f"The {what} {name!r} names no file.", value=name)
    return PurePosixPath(*parts)


def safe_join(root: str | os.PathLike[str], name: str, *, what: str = "path") -> Path:
    """Join ``name`` under ``root`` and prove the result stays inside ``root``.

    The one containment check every store and route uses: :func:`check_relative_path`, then
    ``resolve()`` (following symlinks) and ``is_relative_to(root.resolve())`` on the exact
    path that will be opened.
    """
    relative = check_relative_path(name, what=what)
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise InvalidNameError(
            f"The {what} {name!r} resolves outside its root (through a symbolic link).",
            hint="Remove the link or use a path inside the root.",
            value=name,
        )
    return target


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print or log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
