"""Named pause points: barriers that let fault tests stop the process at an exact step.

When ``CONVEYOR_PAUSE_POINT`` names the point reached and ``CONVEYOR_PAUSE_PIPE`` names a
FIFO, the process writes ``reached`` to the FIFO, then blocks until the test writes to it
(the test may ``SIGKILL`` the process instead, or tamper with files, then resume it). With
the variables unset a pause point costs one dictionary lookup.
"""

from __future__ import annotations

import os

POINT_ENV = "CONVEYOR_PAUSE_POINT"
PIPE_ENV = "CONVEYOR_PAUSE_PIPE"


def pause_point(name: str) -> None:
    """Block at ``name`` if the environment asks for it; otherwise return at once."""
    if os.environ.get(POINT_ENV) != name:
        return
    pipe = os.environ.get(PIPE_ENV)
    if not pipe:
        return
    with open(pipe, "w", encoding="utf-8") as out:
        out.write("reached\n")
    with open(pipe, encoding="utf-8") as resume:
        resume.read()
