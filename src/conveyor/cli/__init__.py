"""The ``conveyor`` command: parse, call the service functions, print.

Exit codes: 0 success, 1 a user error (one line, no traceback), 2 a usage error,
70 an internal error (a bug: the message says how to see the traceback).
"""

from __future__ import annotations

from ._app import main as main

__all__ = [
    "main",
]
