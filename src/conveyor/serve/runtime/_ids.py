"""Prediction ids: UUIDv7 (RFC 9562), so an id carries the time it was made.

An id is 48 bits of Unix milliseconds, the version (7), 12 bits of a per-process counter
seeded at random, the variant, and 62 random bits. The text form sorts as the time does, so
the prediction log finds the segment that holds an id by comparing strings, and feedback
can be windowed by the time in its id without a lookup.

Unique across threads (the counter is taken under a lock), across processes (62 random
bits per id, plus the random counter seed) and within a millisecond (the counter). It runs
on the request path: one ``os.urandom`` per call, not per id.
"""

from __future__ import annotations

import os
import re
import threading
import time

from ...core import InvalidValueError

__all__ = ["new_prediction_ids", "prediction_time_ms"]

_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_lock = threading.Lock()
# The first hex digit of the 17th: the two variant bits (10) over two random bits.
_VARIANT = {f"{d:x}": f"{8 | (d & 3):x}" for d in range(16)}
# The last millisecond handed out and the 12-bit counter within it. When the counter would
# overflow (4 096 ids in one millisecond) the clock is advanced by one instead, so ids stay
# strictly increasing within a process (RFC 9562 section 6.2, method 1).
_last_ms = 0
_counter = 0


def _reserve(n: int) -> tuple[int, int]:
    """The millisecond and first counter value of ``n`` consecutive ids."""
    global _last_ms, _counter
    now = time.time_ns() // 1_000_000
    with _lock:
        if now > _last_ms:
            _last_ms = now
            _counter = int.from_bytes(os.urandom(1)) << 2  # random seed, room to count up
        start = _counter
        if start + n > 0xFFF:
            _last_ms += 1
            start = 0
        _counter = start + n
        return _last_ms, start


def new_prediction_ids(n: int) -> list[str]:
    """``n`` new prediction ids (UUIDv7 text), increasing in the order returned.

    Raises:
        InvalidValueError: ``n`` is negative.
    """
    if n < 0:
        raise InvalidValueError(f"The number of prediction ids must be 0 or more. Got {n}.")
    if n == 0:
        return []
    ids: list[str] = []
    noise = os.urandom(8 * n).hex()
    done = 0
    while done < n:
        # At most 4 096 per millisecond: a larger batch spans several.
        take = min(n - done, 0x1000)
        ms, start = _reserve(take)
        stamp = f"{ms:012x}"
        head = f"{stamp[:8]}-{stamp[8:]}-7"
        for i in range(start, start + take):
            r = noise[16 * done : 16 * done + 16]
            ids.append(f"{head}{i:03x}-{_VARIANT[r[0]]}{r[1:4]}-{r[4:]}")
            done += 1
    return ids


def prediction_time_ms(prediction_id: str) -> int:
    """The Unix time in milliseconds at which ``prediction_id`` was made.

    Raises:
        InvalidValueError: ``prediction_id`` is not a UUIDv7.
    """
    if not isinstance(prediction_id, str) or not _UUID7.fullmatch(prediction_id):
        shown = prediction_id if isinstance(prediction_id, str) else type(prediction_id).__name__
        raise InvalidValueError(
            f"A prediction id must be a UUIDv7 in lowercase text, such as "
            f"'0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b'. Got {shown[:80]!r}.",
            hint="Use the id the prediction service returned with the prediction.",
            prediction_id=shown[:80],
        )
    return int(prediction_id[:8] + prediction_id[9:13], 16)
