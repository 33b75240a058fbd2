"""Register, find, list and load model versions.

A version is stored as a directory artifact of two files, a manifest and one model file
(see ``_manifest``), written to a private temporary folder, put in the artifact store, and
only then recorded in the metadata store: a failed registration leaves no version. An
object conveyor serialised is signed by the store (HMAC over the manifest's and the
file's sha256, kept in the version's ``conveyor.signature`` tag); a file registered from
disk is not, and is accepted only in a format that loads without running code.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    InvalidValueError,
    NotFoundError,
    did_you_mean,
    sha256_bytes,
    sha256_file,
    validate_name,
)
from ..lineage import put_artifact
from ..pipelines import current_step_context
from . import _flavors
from ._evaluations import check_version
from ._load import load_record
from ._manifest import FLAVORS, MANIFEST_FORMAT, MANIFEST_NAME, ModelManifest
from ._model import Model
from ._signature import check_signature, infer_signature
from ._signing import RESERVED_TAG_PREFIX, SIGNATURE_TAG, model_signature
from ._uris import ModelRef, parse_model_uri

if TYPE_CHECKING:
    from ..workspace import Workspace

logger = logging.getLogger(__name__)

MODEL_TYPE = "conveyor.registry.Model"
MEDIA_TYPE = "application/vnd.conveyor.model+dir"
_TMP = Path("tmp")


def register_model(
    ws: Workspace,
    name: str,
    model: Any,
    *,
    flavor: str | None = None,
    signature: Mapping[str, Any] | None = None,
    input_example: Any = None,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
    parent: int | str | Model | None = None,
) -> Model:
    """Register ``model`` as the next version of model ``name`` (created on first use).

    ``model`` is a fitted object, stored in its flavor's format and signed by the store,
    or the path of a model file (a skops file of trusted types, or a LightGBM text model),
    stored as it is and not signed. Inside a step, the version records the step's run and
    the artifact its step run, so its lineage reaches the run's data, features and code.

    Args:
        flavor: ``sklearn`` (skops; the default for scikit-learn estimators and
            pipelines), ``lightgbm`` or ``xgboost`` (a bare estimator of theirs, in their
            own format; the default for them) or ``pickle`` (the default for anything
            else; loads only while the store's signature verifies).
        signature: The input/output schema by hand (``{"inputs": [{"name": "age",
            "type": "long"}], "outputs": [...]}``).
        input_example: A pandas DataFrame of inputs to infer the signature from (its
            outputs from the model's predictions on it).
        metrics: Metrics to record with the version.
        params: Params to record (default: the estimator's ``get_params()``).
        tags: Tags to record (keys starting ``conveyor.`` are reserved).
        description: A line about the version.
        parent: The version of this model it was trained from: a number, a URI of this
            model (``churn@champion``) or a :class:`Model`.

    Raises:
        InvalidNameError: a bad model name.
        InvalidValueError: an unknown flavor, one that cannot hold the model, a bad
            signature, metric, tag or parent.
        UntrustedModelError: a file that is pickle-based or holds untrusted types.
        ConfigError: the flavor's library is not installed.

    Example:
        >>> model = register_model(ws, "churn", fitted, input_example=X.head())  # doctest: +SKIP
        >>> model.uri  # doctest: +SKIP
        'models:/churn/1'
    """
    validate_name(name, what="model name")
    if flavor is not None and flavor not in FLAVORS:
        raise InvalidValueError(
            f"A model's flavor must be one of {list(FLAVORS)}. Got {flavor!r}."
            f"{did_you_mean(str(flavor), FLAVORS)}",
            hint="Leave it unset to choose by the model's type.",
            flavor=flavor,
        )
    user_tags = _check_tags(tags)
    checked_metrics = _check_metrics(metrics)
    parent_version = _parent_version(ws, name, parent)
    from_file = isinstance(model, str | os.PathLike)
    if from_file:
        source = Path(model)
        if not source.is_file():
            raise NotFoundError(
                f"{str(source)!r} is not a model file.",
                hint="Pass a fitted model object, or the path of a .skops or LightGBM file.",
            )
    else:
        flavor = flavor or _flavors.detect_flavor(model)
        _flavors.check_flavor(flavor, model)
    schema = _signature(model if not from_file else None, signature, input_example)
    recorded_params = dict(params) if params is not None else estimator_params(model)

    tmp_root = ws.config.state_dir / _TMP
    tmp_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="model-", dir=tmp_root))  # mode 0700
    try:
        if from_file:
            flavor, saved = _copy_file(source, flavor, folder)
        else:
            assert flavor is not None
            saved = _flavors.save(flavor, model, folder)
        file_sha256, size = sha256_file(folder / saved.file)
        manifest = ModelManifest(
            format=MANIFEST_FORMAT,
            flavor=flavor,  # type: ignore[arg-type]  # checked against FLAVORS above
            file=saved.file,
            sha256=file_sha256,
            size=size,
            estimator=saved.estimator,
            classes=saved.classes,
            model_type=saved.model_type,
            libraries=saved.libraries,
        )
        manifest_bytes = manifest.to_bytes()
        (folder / MANIFEST_NAME).write_bytes(manifest_bytes)
        ctx = current_step_context()
        artifact = put_artifact(
            ws,
            folder,
            name=f"models/{name}",
            type_name=MODEL_TYPE,
            media_type=MEDIA_TYPE,
            meta={"model": name, "flavor": flavor},
            producer_step_run_id=ctx.step_run_id if ctx is not None else None,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not from_file:
        key = st.signing_key(ws.store)
        user_tags[SIGNATURE_TAG] = model_signature(
            key, manifest_sha256=sha256_bytes(manifest_bytes), file_sha256=file_sha256
        )
    record = st.register_model_version(
        ws.store,
        name,
        artifact_id=artifact.id,
        run_id=ctx.run_id if ctx is not None else None,
        flavor=flavor,
        signature=schema,
        metrics=checked_metrics,
        params=recorded_params,
        tags=user_tags,
        description=description,
        parent_version=parent_version,
    )
    return _handle(ws, name, record, artifact.digest, parent_version=parent_version)


def get_model(ws: Workspace, uri: str) -> Model:
    """The version ``uri`` names (``models:/churn@champion``, ``churn/3``, ``churn``).

    Raises:
        InvalidValueError: ``uri`` is not a model URI.
        NotFoundError: no such model, version or alias (naming the ones there are).
    """
    ref = parse_model_uri(uri)
    return _handle(ws, ref.name, resolve(ws, ref))


def load_model(ws: Workspace, uri: str) -> Any:
    """The model object of the version ``uri`` names, after every check: the artifact's
    checksum, the manifest's schema, and the store's signature where its format needs one.

    Raises:
        ChecksumMismatchError: bytes changed since registration (naming the version and
            its artifact).
        UntrustedModelError: an unsigned pickle, untrusted skops types without a valid
            signature, or a manifest outside the schema.
        SignatureMismatchError: a signature is recorded and does not verify.

    Example:
        >>> model = load_model(ws, "models:/churn@champion")  # doctest: +SKIP
    """
    ref = parse_model_uri(uri)
    return load_record(ws, ref.name, resolve(ws, ref))


@dataclass(frozen=True)
class ModelSummary:
    """A registered model: its latest version and its aliases."""

    name: str
    latest_version: int
    aliases: dict[str, int]
    description: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "aliases": self.aliases,
            "description": self.description,
            "created_at": self.created_at,
        }


def list_models(ws: Workspace) -> list[ModelSummary]:
    """The project's models, by name, with their latest version and aliases."""
    return [
        ModelSummary(
            name=m.name,
            latest_version=m.last_version,
            aliases=st.list_aliases(ws.store, m.name),
            description=m.description,
            created_at=m.created_at,
        )
        for m in st.list_models(ws.store)
    ]


def list_versions(ws: Workspace, name: str) -> list[Model]:
    """Every version of model ``name``, oldest first.

    Raises:
        NotFoundError: no such model.
    """
    records = st.list_model_versions(ws.store, name)
    numbers = {r.id: r.version for r in records}
    return [
        _handle(
            ws,
            name,
            r,
            parent_version=numbers.get(r.parent_version_id) if r.parent_version_id else None,
        )
        for r in records
    ]


def model_aliases(ws: Workspace, name: str) -> dict[str, int]:
    """The aliases of model ``name`` and the version each points at."""
    return st.list_aliases(ws.store, name)


def resolve(ws: Workspace, ref: ModelRef) -> st.ModelVersionRecord:
    """The version record ``ref`` names (the latest version when it names neither)."""
    if ref.alias is not None:
        return st.resolve_alias(ws.store, ref.name, ref.alias)
    version = ref.version
    if version is None:
        version = st.get_model(ws.store, ref.name).last_version
    return st.get_model_version(ws.store, ref.name, version)


def _handle(
    ws: Workspace,
    name: str,
    record: st.ModelVersionRecord,
    digest: str | None = None,
    *,
    parent_version: int | None = None,
) -> Model:
    if digest is None:
        digest = (
            ""
            if record.artifact_id is None
            else st.get_artifact(ws.store, record.artifact_id).digest
        )
    if parent_version is None and record.parent_version_id is not None:
        numbers = {r.id: r.version for r in st.list_model_versions(ws.store, name)}
        parent_version = numbers.get(record.parent_version_id)
    return Model(
        name=name,
        version=record.version,
        flavor=record.flavor,
        digest=digest,
        signature=dict(record.signature),
        metrics=dict(record.metrics),
        params=dict(record.params),
        tags=dict(record.tags),
        run_id=record.run_id,
        parent_version=parent_version,
        description=record.description,
        created_at=record.created_at,
    ).bind(ws)


def _parent_version(ws: Workspace, name: str, parent: int | str | Model | None) -> int | None:
    if parent is None:
        return None
    ref: ModelRef | None = None
    if isinstance(parent, Model):
        parent_name = parent.name
    elif isinstance(parent, str):
        ref = parse_model_uri(parent)
        parent_name = ref.name
    else:
        parent_name = name
    if parent_name != name:
        raise InvalidValueError(
            f"A version's parent is a version of the same model; got {parent_name!r} for a "
            f"version of {name!r}.",
            hint=f"Pass a version of {name!r}, e.g. parent='{name}@champion'.",
        )
    if isinstance(parent, Model):
        return parent.version
    if ref is not None:
        return resolve(ws, ref).version
    return check_version(parent, what="parent version")


def _copy_file(source: Path, flavor: str | None, folder: Path) -> tuple[str, _flavors.Saved]:
    data = source.read_bytes()
    found = _flavors.sniff_file(data, name=source.name)
    if flavor is not None and flavor != found:
        raise InvalidValueError(
            f"{source.name!r} is a {found} model file, not {flavor!r}.",
            hint="Leave flavor unset for a file: its content decides.",
        )
    target = folder / _flavors.FILE_NAMES[found]
    target.write_bytes(data)
    if found == "lightgbm":
        return found, _flavors.Saved(target.name, estimator="Booster")
    return found, _flavors.Saved(target.name)


def _signature(
    model: Any, signature: Mapping[str, Any] | None, input_example: Any
) -> dict[str, Any]:
    if signature is not None:
        return check_signature(signature)
    if input_example is None:
        return {}
    predictions = None
    if model is not None and hasattr(model, "predict"):
        try:
            predictions = model.predict(input_example)
        except Exception as exc:  # the inputs still describe the model
            logger.warning("no output signature: predict on input_example failed: %s", exc)
    return infer_signature(input_example, predictions)


def _check_tags(tags: Mapping[str, Any] | None) -> dict[str, Any]:
    checked = dict(tags or {})
    for key in checked:
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"Tag keys must be non-empty strings. Got {key!r}.")
        if key.startswith(RESERVED_TAG_PREFIX):
            raise InvalidValueError(
                f"Tag {key!r} is reserved: keys starting {RESERVED_TAG_PREFIX!r} are the store's.",
                hint="Name the tag without the 'conveyor.' prefix.",
                tag=key,
            )
    return checked


def _check_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    checked: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if not isinstance(key, str) or number is None or not math.isfinite(number):
            raise InvalidValueError(
                f"Metrics are names with finite numbers. Got {key!r}: {value!r}.",
                hint="Convert the value with float(); leave out metrics that are NaN.",
            )
        checked[key] = float(number)
    return checked


def estimator_params(model: Any) -> dict[str, Any]:
    """``model.get_params(deep=True)`` as JSON, if it has it: a pipeline's steps' params as
    ``step__param``; values that are not JSON scalars (a nested estimator) as their text."""
    get_params = getattr(model, "get_params", None)
    if isinstance(model, str | os.PathLike) or not callable(get_params):
        return {}
    try:
        raw = get_params(deep=True)
    except Exception:  # a get_params that needs arguments, or fails: nothing to record
        return {}
    params: dict[str, Any] = {}
    for key, value in dict(raw).items():
        if value is None or isinstance(value, bool | int | str):
            params[str(key)] = value
        elif isinstance(value, float):
            params[str(key)] = value if math.isfinite(value) else repr(value)
        else:
            params[str(key)] = repr(value)[:500]
    return params
