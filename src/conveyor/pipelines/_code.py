"""Code identity: the hash a step's cache key uses, and a run's code version and environment."""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import platform
import subprocess
import sys
import textwrap
import types
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import sha256_json

if TYPE_CHECKING:
    from ._step import Step


def _names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _source(fn: Any) -> str:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return fn.__code__.co_code.hex() if hasattr(fn, "__code__") else repr(fn)


def code_hash(step: Step[Any, Any]) -> str:
    """Hash of the step's source and the source of same-module functions it calls, recursively.

    With ``@step(version=...)`` the version replaces the source: the user decides when the
    cache goes stale.
    """
    if step.options.version is not None:
        return sha256_json({"version": step.options.version})
    seen: dict[str, str] = {}
    stack: list[Any] = [step.fn]
    while stack:
        fn = stack.pop()
        key = f"{fn.__module__}.{fn.__qualname__}"
        if key in seen:
            continue
        seen[key] = _source(fn)
        globals_ = getattr(fn, "__globals__", {})
        for name in _names(fn.__code__):
            obj = globals_.get(name)
            inner = getattr(obj, "fn", None) if obj is not None and hasattr(obj, "options") else obj
            if isinstance(inner, types.FunctionType) and inner.__module__ == step.module:
                stack.append(inner)
    return sha256_json(seen)


def cache_key(
    step: Step[Any, Any], code: str, inputs: dict[str, Any], constants: dict[str, Any]
) -> str:
    """Code hash + input artifact digests + params: equal keys mean equal outputs."""
    return sha256_json({"step": step.name, "code": code, "inputs": inputs, "params": constants})


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode(errors="replace") if done.returncode == 0 else None


def code_version(root: Path) -> dict[str, Any]:
    """The project's git commit, whether the tree is dirty, and a hash of the diff."""
    sha = _git(["rev-parse", "HEAD"], root)
    if sha is None:
        return {"git_sha": None, "dirty": None, "diff_sha256": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], root) or ""
    diff = _git(["diff", "HEAD"], root) or ""
    return {
        "git_sha": sha.strip(),
        "dirty": bool(status.strip()),
        "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None,
    }


def environment() -> dict[str, Any]:
    """Python, platform and the versions of every installed distribution (a copy)."""
    return copy.deepcopy(_environment())


@functools.cache
def _environment() -> dict[str, Any]:
    # Reading ~250 package metadata files takes ~60 ms: once per process is enough.
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items())),
    }
