"""Online feature enrichment: a deployment whose config names features (``features``:
``["weather:temp_c", ...]``) has them looked up in the online store by the request's entity
columns, batched per model call, before the model sees the rows.

A request carries the views' entity columns (``origin``) and the model inputs that are not
looked up; a feature the request carries itself is taken as sent, not looked up. A value
the online store misses (unknown entity, or older than the view's TTL) is NaN for a number
and None otherwise, and the model decides what that means. The looked-up values go to the
prediction log as the row's ``features``.

Built here, above both, because features and serving are sibling domains: the runtime
only knows the :class:`~conveyor.serve.runtime.Enrichment` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core import InvalidValueError
from ..runtime import Batch

if TYPE_CHECKING:
    from ...workspace import Workspace

_NUMBERS = {"float", "double", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
_SIGNATURE_TYPE = {"bool": "boolean", "string": "string"}


class OnlineEnrichment:
    """Looks ``refs`` up for each model call; one per loaded version (its own connection)."""

    def __init__(
        self,
        ws: Workspace,
        refs: Sequence[str],
        *,
        entity_types: Mapping[str, str] | None = None,
    ) -> None:
        from ...features import list_views, open_online, parse_feature_refs

        views = {v.name: v for v in list_views(ws)}
        chosen = parse_feature_refs(list(refs), views)
        self.features: dict[str, str] = {}
        for view_name, names in chosen.items():
            for name in names:
                if name in self.features:
                    raise InvalidValueError(
                        f"Two views of this deployment's features name {name!r}; a model "
                        "input can come from one only.",
                        hint="List one view's feature, or rename it in its view.",
                    )
                self.features[name] = str(views[view_name].features[name])
        self.entities = sorted({e for v in chosen for e in views[v].entities})
        self.entity_types = {e: (entity_types or {}).get(e, "string") for e in self.entities}
        self._refs = [f"{view}:{name}" for view, names in chosen.items() for name in names]
        self._ws = ws
        self._online = open_online(ws)

    def request_signature(self, signature: Mapping[str, Any]) -> dict[str, Any]:
        """What a request must carry: the entity columns and the model's inputs, the
        looked-up features made optional (a request may send them itself)."""
        inputs = [
            {**spec, "required": False} if spec.get("name") in self.features else dict(spec)
            for spec in signature.get("inputs") or ()
        ]
        given = {spec.get("name") for spec in inputs}
        entities = [
            {"name": e, "type": self.entity_types[e], "required": True}
            for e in self.entities
            if e not in given
        ]
        return {**signature, "inputs": entities + inputs}

    def __call__(self, batch: Batch) -> None:
        """Add the features ``batch`` does not carry, looked up by its entity columns."""
        from ...features import get_online_features

        missing = [f for f in self.features if f not in batch.columns]
        if not missing:
            return
        keys = zip(*(batch.columns[e].tolist() for e in self.entities), strict=True)
        rows = [dict(zip(self.entities, key, strict=True)) for key in keys]
        refs = [r for r in self._refs if r.split(":", 1)[1] in missing]
        found = get_online_features(self._ws, rows, refs, online=self._online)
        for name in missing:
            batch.columns[name] = _column(
                [row.get(name) for row in found.rows], self.features[name]
            )

    def close(self) -> None:
        self._online.close()


def _column(values: list[Any], kind: str) -> np.ndarray:
    if kind in _NUMBERS:
        if kind.startswith(("int", "uint")) and None not in values:
            return np.array(values, dtype=np.int64)
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "bool" and None not in values:
        return np.array(values, dtype=bool)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def enrichment_factory(ws: Workspace, config: Mapping[str, Any]) -> Any:
    """A factory of :class:`OnlineEnrichment` for a deployment's ``config``, or None when
    it names no features.

    Raises:
        InvalidValueError: ``features`` is not a list of ``view:feature`` references.
    """
    refs = config.get("features")
    if not refs:
        return None
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise InvalidValueError(
            f"A deployment's features are a list of 'view:feature' references. Got {refs!r}.",
            hint="e.g. conveyor deployments set NAME --model M --feature weather:temp_c",
        )
    entity_types = dict(config.get("entity_types") or {})
    OnlineEnrichment(ws, refs, entity_types=entity_types).close()  # refuse bad refs at start
    return lambda: OnlineEnrichment(ws, refs, entity_types=entity_types)
