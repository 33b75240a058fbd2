"""``Evaluation``: the verdict of one evaluation of a model version, as steps pass it on.

A handle on a row the registry signed: which version was judged, against which baseline
(the champion, when there was one), whether every gate passed, and each gate's figure,
threshold, interval and reason. Passed between steps it is a small JSON reference
(materializer ``conveyor.evaluation``); a promotion presents its ``id`` and the registry
verifies the signature before moving the champion alias.

This module is imported by ``import conveyor``: nothing heavy is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..pipelines import register_reference_materializer
from ._gate_report import GateResult, canonical

_FIELDS = ("id", "model", "version", "passed", "baseline_version", "digest")


@dataclass(frozen=True)
class Evaluation:
    """The signed verdict on version ``version`` of model ``model``.

    Use ``when=ev.passed`` in a pipeline to promote only what passed, and
    ``conveyor.registry.promote(ws, ev.model, ev.version, evaluation_id=ev.id)``.

    Attributes:
        id: The evaluation's id in the metadata store.
        model: The registered model's name.
        version: The version judged.
        passed: Whether every gate passed.
        baseline_version: The champion it was compared with, or None (no champion yet).
        digest: sha256 of the full report the store signed.
        metrics: The challenger's overall metrics on the holdout.
        gates: Each gate's outcome.
    """

    id: int
    model: str
    version: int
    passed: bool
    baseline_version: int | None
    digest: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    gates: tuple[GateResult, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether a gate failed (``when=ev.failed`` runs the alerting branch)."""
        return not self.passed

    @property
    def reasons(self) -> list[str]:
        """The reasons of the gates that failed."""
        return [g.reason for g in self.gates if not g.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **{k: getattr(self, k) for k in _FIELDS},
            "metrics": canonical(self.metrics),
            "gates": [gate.to_dict() for gate in self.gates],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        gates = tuple(
            GateResult(
                **{
                    **g,
                    "interval": tuple(g["interval"]) if g.get("interval") is not None else None,
                }
            )
            for g in data.get("gates", ())
        )
        return cls(**{**{k: data[k] for k in _FIELDS}, "metrics": data["metrics"], "gates": gates})

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "failed"
        against = f" against version {self.baseline_version}" if self.baseline_version else ""
        return f"evaluation {self.id} of models:/{self.model}/{self.version}{against}: {verdict}"


register_reference_materializer(
    "conveyor.evaluation", Evaluation, to_dict=Evaluation.to_dict, from_dict=Evaluation.from_dict
)
