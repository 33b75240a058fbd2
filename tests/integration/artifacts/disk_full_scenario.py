"""R12's disk-full scenario, run in-process or in a child (``python disk_full_scenario.py``).

The artifact root must sit on a full-able file system: an 8 MB tmpfs (``--mount``, mounted
here, e.g. inside ``unshare -rm``), or any folder with ``RLIMIT_FSIZE`` lowered
(``--rlimit``). Prints the observations as one JSON line; the test asserts on them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.artifacts import LocalArtifactStore
from conveyor.core import ArtifactStoreFullError

MB = 1_000_000
EXIT_NO_MECHANISM = 3


def count_files(root: Path) -> dict[str, int]:
    return {
        part: sum(len(files) for _, _, files in os.walk(root / part)) for part in ("blobs", "tmp")
    }


def attempt(put: Callable[[], Any]) -> dict[str, Any]:
    try:
        info = put()
    except ArtifactStoreFullError as exc:
        return {"ok": False, "error": str(exc), "errno": exc.errno}
    return {"ok": True, "digest": info.digest}


def run_scenario(
    root: Path,
    make_room: Callable[[LocalArtifactStore, str], None],
    limit: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """20 MB as a file, as bytes, in a dir: each fails whole. A fits, B not; make room; B fits.

    ``limit`` is called once the source files exist, before the first store write.
    """
    sources = Path(tempfile.mkdtemp(prefix="conveyor-r12-"))
    try:
        return _run(root, sources, make_room, limit)
    finally:
        shutil.rmtree(sources, ignore_errors=True)


def _run(
    root: Path,
    sources: Path,
    make_room: Callable[[LocalArtifactStore, str], None],
    limit: Callable[[], None],
) -> dict[str, Any]:
    big = sources / "big.bin"
    big.write_bytes(os.urandom(20 * MB))
    (sources / "tree").mkdir()
    (sources / "tree" / "a_small.txt").write_bytes(b"small")  # stored first (sorted)
    (sources / "tree" / "z_big.bin").write_bytes(os.urandom(20 * MB))
    limit()
    store = LocalArtifactStore(root)
    out: dict[str, Any] = {}
    out["big_file"] = attempt(lambda: store.put_file(big))
    out["after_big_file"] = count_files(root)
    out["big_bytes"] = attempt(lambda: store.put_bytes(os.urandom(20 * MB)))
    out["after_big_bytes"] = count_files(root)
    out["big_dir"] = attempt(lambda: store.put_dir(sources / "tree"))
    out["after_big_dir"] = count_files(root)
    small = hashlib.sha256(b"small").hexdigest()
    out["small_complete"] = store.get_bytes(small) == b"small"  # a whole blob, no manifest
    store.delete(small)
    a, b = os.urandom(5 * MB), os.urandom(6 * MB)
    out["a"] = attempt(lambda: store.put_bytes(a))
    out["b_full"] = attempt(lambda: store.put_bytes(b))
    out["after_b_full"] = count_files(root)
    make_room(store, out["a"]["digest"])
    out["b_rerun"] = attempt(lambda: store.put_bytes(b))
    out["b_verified"] = out["b_rerun"]["ok"] and store.get_bytes(out["b_rerun"]["digest"]) == b
    out["blobs"] = sorted(x.digest for x in store.iter_blobs())
    out["after_all"] = count_files(root)
    return out


def delete_a(store: LocalArtifactStore, digest: str) -> None:
    store.delete(digest)


def lower_limit() -> None:
    """5.5 MB per file: A (5 MB) fits; B (6 MB) and the 20 MB writes get EFBIG."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (5_500_000, resource.RLIM_INFINITY))


def raise_limit(store: LocalArtifactStore, digest: str) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mechanism", choices=["mount", "rlimit"])
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    if args.mechanism == "mount":
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(args.root)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(json.dumps({"mechanism_error": done.stderr.strip()}))
            return EXIT_NO_MECHANISM
        try:
            result = run_scenario(args.root / "store", delete_a)
        finally:
            subprocess.run(["umount", str(args.root)], capture_output=True)
    else:
        result = run_scenario(args.root / "store", raise_limit, lower_limit)
    print(json.dumps({"mechanism": args.mechanism, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
