"""Walking a local directory to store it, and creating private parent directories."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conveyor.core import InvalidNameError, NotFoundError, check_relative_path, safe_join

from ._files import make_private_dir

__all__ = ["make_dirs", "make_parents", "scan_dir"]


def scan_dir(path: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """List the regular files under ``path`` as ``(relative posix path, path to open)``.

    The whole tree is checked before anything is stored, so a bad entry stores nothing:

    - every relative path must pass :func:`~conveyor.core.check_relative_path` unchanged;
    - a symbolic link is followed only if it resolves to a regular file inside the
      directory (checked with :func:`~conveyor.core.safe_join`); links to directories,
      dangling links and links out are refused;
    - FIFOs, sockets and devices are refused.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotFoundError(
            f"The directory {str(root)!r} does not exist or is not a directory.",
            hint="Pass the path of a directory to store.",
            path=str(root),
        )
    base = root.resolve()
    found: list[tuple[str, Path]] = []

    def fail(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(base, onerror=fail, followlinks=False):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath, name)
            rel = full.relative_to(base).as_posix()
            _check_stable(rel, root=base)
            mode = os.lstat(full).st_mode
            if stat.S_ISDIR(mode):
                continue  # os.walk descends into it
            if stat.S_ISREG(mode):
                found.append((rel, full))
            elif stat.S_ISLNK(mode):
                found.append((rel, _follow_inside(base, rel)))
            else:
                raise InvalidNameError(
                    f"{rel!r} in {str(base)!r} is a special file (FIFO, socket or device); "
                    "only regular files can be stored.",
                    hint="Remove it from the directory before storing it.",
                    path=rel,
                )
    found.sort()
    return found


def _check_stable(rel: str, *, root: Path) -> None:
    normal = check_relative_path(rel, what=f"file name in {str(root)!r}")
    if normal.as_posix() != rel:
        raise InvalidNameError(
            f"The file name {rel!r} in {str(root)!r} would read back as {normal.as_posix()!r} "
            "(URL escapes or Unicode compatibility forms); expected a plain name.",
            hint="Rename the file, e.g. without '%' escapes or full-width characters.",
            path=rel,
        )


def _follow_inside(base: Path, rel: str) -> Path:
    target = safe_join(base, rel, what="symbolic link")
    if target.is_dir():
        raise InvalidNameError(
            f"{rel!r} in {str(base)!r} is a symbolic link to a directory; expected regular "
            "files or links to files inside the directory.",
            hint="Replace the link with a copy of the directory.",
            path=rel,
        )
    if not target.is_file():
        raise InvalidNameError(
            f"{rel!r} in {str(base)!r} is a dangling symbolic link or points to a special "
            "file; expected a link to a regular file inside the directory.",
            hint="Remove the link.",
            path=rel,
        )
    return target


def make_parents(root: Path, relative: str) -> None:
    """Create the parent directories of ``root/relative``, each mode 0700."""
    make_dirs(root, relative.rpartition("/")[0])


def make_dirs(root: Path, relative: str) -> None:
    """Create ``root/relative`` and its parents one component at a time, each mode 0700.

    Refuses to pass through anything that is not a real directory (a file or a link).
    """
    current = root
    for part in relative.split("/") if relative else ():
        current = current / part
        if not make_private_dir(current) and (current.is_symlink() or not current.is_dir()):
            raise InvalidNameError(
                f"Cannot create directory {str(current)!r}: a file or link is in the way.",
                path=str(current),
            )
