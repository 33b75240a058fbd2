"""The pipelines ``bench_pipeline.py`` times: no-op steps, so a run's wall time is overhead.

They live in an importable module (not ``__main__``) so that process-mode steps can be
imported again by their child processes. ``bench/`` must be on ``sys.path``.

* ``chain``: ``link()`` then ``n - 1`` more ``link(prev)`` calls, each taking the previous
  step's output as its input (real data edges, like Prefect's chain of task calls).
* ``fanout``: ``item.map(range(n))``: one step mapped over ``n`` items.

The defaults of ``n`` are small: a ``@pipeline`` whose parameters all have defaults is
traced once at import, and the benchmark passes the real ``n`` when it starts a run.
"""

from __future__ import annotations

from conveyor import pipeline, step


@step
def link(prev: int = 0) -> int:
    return prev


@step
def item(i: int) -> None:
    return None


@pipeline
def chain(n: int = 2) -> None:
    prev = link()
    for _ in range(n - 1):
        prev = link(prev)


@pipeline
def fanout(n: int = 2) -> None:
    item.map(list(range(n)))
