"""``Model``: one registered model version, as steps take and return it.

A handle, not the model: the file stays in the artifact store until :meth:`Model.load`
fetches it, verifies its checksum, its manifest and (where the format needs it) the store's
signature, and only then deserialises it. Passed between steps it is stored as a small JSON
reference (materializer ``conveyor.model``), as a ``Dataset`` is.

This module is imported by ``import conveyor`` (the root exports ``Model``): the store and
every ML library are imported only when a model is registered, loaded or used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..core import StepContextError
from ..pipelines import current_step_context, register_reference_materializer
from ._uris import SCHEME

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass(frozen=True)
class Model:
    """Version ``version`` of registered model ``name``.

    Get one from :func:`conveyor.registry.register_model` or
    :func:`conveyor.registry.get_model`; return one from a step to hand it on.

    Attributes:
        name: The model's name.
        version: The version's number (1, 2, 3 ...).
        flavor: Its file format: ``sklearn`` (skops), ``lightgbm`` (LightGBM's text
            format), ``xgboost`` (XGBoost's JSON) or ``pickle`` (signed by the store).
        digest: sha256 of the version's directory artifact (manifest and model file).
        signature: Its input and output schema, MLflow style: ``{"inputs": [{"name":
            "age", "type": "long", "required": true}, ...], "outputs": [...]}`` (empty when
            not known).
        metrics: Metrics recorded with the version.
        params: Params recorded with the version (the estimator's ``get_params()`` by
            default).
        tags: Tags recorded with the version (keys under ``conveyor.`` are the store's).
        run_id: The run that registered it, if a step did.
        parent_version: The version of the same model it was trained from, if any.
        description: A line about the version.
        created_at: When it was registered, in epoch milliseconds.
    """

    name: str
    version: int
    flavor: str
    digest: str
    signature: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    parent_version: int | None = None
    description: str = ""
    created_at: int = 0
    _ws: Workspace | None = field(default=None, compare=False, repr=False)
    _loaded: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def uri(self) -> str:
        """``models:/name/version``."""
        return f"{SCHEME}{self.name}/{self.version}"

    def load(self) -> Any:
        """The model object, after its checksum, manifest and signature were verified.

        Each call loads afresh (a new object); :meth:`predict` uses the one loaded last.

        Raises:
            ChecksumMismatchError: the stored or cached bytes changed since registration.
            UntrustedModelError: the file would run code the store did not sign.
            SignatureMismatchError: the file or manifest no longer matches its signature.
        """
        from ._load import load_version

        loaded = load_version(self._workspace(), self.name, self.version, expected=self.digest)
        self._loaded[:] = [loaded]
        return loaded

    def predict(self, data: Any) -> Any:
        """Predict with the model on ``data`` (a pandas DataFrame, or what the model takes).

        With an input signature, a DataFrame must have its required columns (missing ones
        are an error naming them); extra columns are dropped and the rest put in the
        signature's order, as MLflow does.
        """
        from ._signature import prepare_input

        if not self._loaded:
            self.load()
        return self._loaded[0].predict(prepare_input(self.signature, data, model=self.uri))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``conveyor models show --json`` prints for a version."""
        return {k: getattr(self, k) for k in _REFERENCE_KEYS} | {"uri": self.uri}

    def bind(self, ws: Workspace) -> Model:
        """The same version, loaded through ``ws``."""
        return replace(self, _ws=ws, _loaded=[])

    def _workspace(self) -> Workspace:
        if self._ws is not None:
            return self._ws
        ctx = current_step_context()
        if ctx is not None:
            return ctx.workspace
        raise StepContextError(
            f"Model {self.uri} is not bound to a project, so it cannot be loaded here.",
            hint="Get it with conveyor.registry.get_model(ws, uri), or load it inside a "
            "step of a pipeline run.",
            model=self.name,
        )


# -- materializer: a Model between steps is a JSON reference -----------------------------

_REFERENCE_KEYS = (
    "name",
    "version",
    "flavor",
    "digest",
    "signature",
    "metrics",
    "params",
    "tags",
    "run_id",
    "parent_version",
    "description",
    "created_at",
)


register_reference_materializer(
    "conveyor.model",
    Model,
    to_dict=lambda value: {k: getattr(value, k) for k in _REFERENCE_KEYS},
    from_dict=lambda fields: Model(**{k: fields[k] for k in _REFERENCE_KEYS}),
)
