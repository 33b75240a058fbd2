"""Peak memory of the current process, for the drift benchmark's two workers (standard
library only: the Evidently worker imports it from Evidently's own venv).

``VmHWM`` in ``/proc/self/status`` is the peak resident set size; writing ``5`` to
``/proc/self/clear_refs`` resets it to the current size (Linux 4.0+), so a phase's peak can
be read on its own. Where the reset is refused, peaks count from the process start.
"""

from __future__ import annotations

import resource

MIB = 1024 * 1024


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Resident set size now."""
    kib = _status_kib("VmRSS")
    return (kib or 0) * 1024


def peak_bytes() -> int:
    """Peak resident set size since the start or the last :func:`reset_peak`."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss is in KiB there too (bytes on macOS)
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024


def reset_peak() -> bool:
    """Start a new peak from the current size; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True
