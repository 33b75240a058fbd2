"""Materializers: how a step's output of a given type becomes bytes, and comes back.

Keyed by type. Built in: JSON values, bytes, ``pathlib.Path`` (a file or directory),
numpy arrays (``.npy`` without pickle), pandas DataFrames and pyarrow Tables (Parquet),
scikit-learn estimators (skops, loaded only if every type in the file is trusted). Users
add their own with :func:`register_materializer`. The name stored with an artifact is looked
up in this registry on load; no module named by an artifact is ever imported.
"""

from __future__ import annotations

import importlib
import json
import math
import shutil
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import PipelineDefinitionError

# Types scikit-learn models may contain beyond what skops trusts by default. Kept minimal on
# purpose: anything else in a model file refuses to load (RELIABILITY rule 3).
TRUSTED_SKOPS_TYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Materializer:
    """Saves values of some types under a path and loads them back.

    Attributes:
        name: Stable identifier stored with each artifact (``"parquet"``).
        types: Classes handled, as ``"module.QualName"`` strings so optional libraries are
            imported only when a value of theirs shows up.
        save: ``save(value, path)`` writes a file (or a directory) at ``path``.
        load: ``load(path)`` returns the value.
        media_type: Recorded with the artifact.
        accepts: Optional extra test for values (e.g. "is JSON-able").
    """

    name: str
    types: tuple[str, ...]
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]
    media_type: str = "application/octet-stream"
    accepts: Callable[[Any], bool] | None = None
    to_bytes: Callable[[Any], bytes] | None = None
    from_bytes: Callable[[bytes], Any] | None = None


_REGISTRY: dict[str, Materializer] = {}


def register_materializer(materializer: Materializer) -> None:
    """Add or replace a materializer; later registrations win for the same type."""
    _REGISTRY[materializer.name] = materializer


# Materializers that packages above the engine register when imported, named here so that
# an artifact of theirs loads in a process that never imported them (a process-mode worker
# whose step only passes a Dataset on). A lookup by name, not a dependency on them.
_REGISTERED_ON_IMPORT = {
    "conveyor.dataset": "conveyor.data",
    "conveyor.model": "conveyor.registry",
    "conveyor.evaluation": "conveyor.train",
}


def register_reference_materializer(
    name: str,
    cls: type[Any],
    *,
    to_dict: Callable[[Any], dict[str, Any]],
    from_dict: Callable[[dict[str, Any]], Any],
) -> None:
    """Register a materializer that stores a handle (a ``Dataset``, a ``Model``) as a small
    JSON reference to what it names, never the data itself.

    Args:
        name: The materializer's name, stored with each artifact (``"conveyor.model"``).
        cls: The handle's class.
        to_dict: The handle as JSON values.
        from_dict: The handle back from them; a damaged reference raises
            :class:`~conveyor.core.InvalidValueError` naming the class.
    """
    from ..core import InvalidValueError

    def to_bytes(value: Any) -> bytes:
        return json.dumps(to_dict(value), sort_keys=True).encode()

    def from_bytes(data: bytes) -> Any:
        try:
            return from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidValueError(
                f"A stored {cls.__name__} reference is damaged ({exc}).",
                hint="Run the step that produced it again.",
            ) from None

    def save(value: Any, path: Path) -> None:
        path.write_bytes(to_bytes(value))

    register_materializer(
        Materializer(
            name=name,
            types=(f"{cls.__module__}.{cls.__qualname__}",),
            save=save,
            load=lambda path: from_bytes(path.read_bytes()),
            media_type="application/json",
            to_bytes=to_bytes,
            from_bytes=from_bytes,
        )
    )


def get_materializer(name: str) -> Materializer:
    if name not in _REGISTRY and name in _REGISTERED_ON_IMPORT:
        importlib.import_module(_REGISTERED_ON_IMPORT[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PipelineDefinitionError(
            f"No materializer named {name!r} is registered; cannot load this artifact.",
            hint="Register it with conveyor.pipelines.register_materializer before loading.",
        ) from None


def _qualnames(cls: type) -> list[str]:
    return [f"{k.__module__}.{k.__qualname__}" for k in cls.__mro__]


def materializer_for_value(value: Any) -> Materializer:
    names = _qualnames(type(value))
    for qualname in names:
        for m in reversed(list(_REGISTRY.values())):
            if qualname in m.types and (m.accepts is None or m.accepts(value)):
                return m
    raise TypeError(
        f"conveyor cannot store a {names[0]} (no materializer for it). Return a JSON value, "
        "bytes, a Path, a numpy array, a pandas DataFrame, a pyarrow Table or a scikit-learn "
        "estimator, or register a materializer with conveyor.pipelines.register_materializer."
    )


def materializer_for_type(annotation: Any) -> Materializer | None:
    """The materializer for a return annotation, or None if it can only be known at run time.

    Raises:
        PipelineDefinitionError: the type is a class no materializer handles.
    """
    if annotation is Any or annotation is typing.Any or isinstance(annotation, typing.TypeVar):
        return None
    if annotation is None or annotation is type(None):
        return _REGISTRY["json"]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return None
    cls = origin or annotation
    if not isinstance(cls, type):
        return None
    for qualname in _qualnames(cls):
        for m in reversed(list(_REGISTRY.values())):
            if qualname in m.types:
                return m
    raise PipelineDefinitionError(
        f"{cls.__module__}.{cls.__qualname__} has no materializer, so conveyor cannot store it."
    )


# JSON values ---------------------------------------------------------------------------


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 100:
        return False
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


# NaN and infinities are not JSON: they are stored as {"__float__": "nan"}. A user's own
# dict of that shape (or of the escape's) is stored as {"__dict__": [[key, value]]}: a
# list, which the loader's object hook never takes for a tag.
_TAGS = ({"__float__"}, {"__dict__"})


def _json_bytes(value: Any) -> bytes:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return {"__float__": repr(v)}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            if set(v) in _TAGS:
                return {"__dict__": [[k, clean(x)] for k, x in v.items()]}
            return {k: clean(x) for k, x in v.items()}
        return v

    return json.dumps(clean(value), sort_keys=True, allow_nan=False).encode()


def _json_value(data: bytes) -> Any:
    def hook(obj: dict[str, Any]) -> Any:
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        if set(obj) == {"__dict__"} and isinstance(obj["__dict__"], list):
            return dict(obj["__dict__"])
        return obj

    return json.loads(data, object_hook=hook)


def _save_json(value: Any, path: Path) -> None:
    path.write_bytes(_json_bytes(value))


def _load_json(path: Path) -> Any:
    return _json_value(path.read_bytes())


register_materializer(
    Materializer(
        name="json",
        types=tuple(
            f"builtins.{t}"
            for t in ("NoneType", "bool", "int", "float", "str", "list", "tuple", "dict")
        ),
        save=_save_json,
        load=_load_json,
        media_type="application/json",
        accepts=_is_json,
        to_bytes=_json_bytes,
        from_bytes=_json_value,
    )
)

register_materializer(
    Materializer(
        name="bytes",
        types=("builtins.bytes", "builtins.bytearray"),
        save=lambda v, p: None if p.write_bytes(bytes(v)) else None,
        load=lambda p: p.read_bytes(),
        to_bytes=bytes,
        from_bytes=lambda b: b,
    )
)


def _save_path(value: Path, path: Path) -> None:
    if value.is_dir():
        shutil.copytree(value, path, symlinks=False)
    elif value.is_file():
        shutil.copyfile(value, path)
    else:
        raise FileNotFoundError(f"The step returned the path {str(value)!r}, which does not exist.")


register_materializer(
    Materializer(
        name="path",
        types=("pathlib.Path", "pathlib.PosixPath", "pathlib.PurePath"),
        save=_save_path,
        load=lambda p: p,
    )
)

# numpy, pandas, pyarrow, scikit-learn (imported only when used) -------------------------


def _save_numpy(value: Any, path: Path) -> None:
    import numpy as np

    with open(path, "wb") as f:
        np.save(f, value, allow_pickle=False)


def _load_numpy(path: Path) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


register_materializer(
    Materializer(
        name="numpy",
        types=("numpy.ndarray",),
        save=_save_numpy,
        load=_load_numpy,
        media_type="application/x-npy",
        accepts=lambda v: v.dtype.kind != "O",
    )
)


def _save_pandas(value: Any, path: Path) -> None:
    value.to_parquet(path, engine="pyarrow")


def _load_pandas(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path, engine="pyarrow")


register_materializer(
    Materializer(
        name="pandas-parquet",
        types=("pandas.DataFrame", "pandas.core.frame.DataFrame"),
        save=_save_pandas,
        load=_load_pandas,
        media_type="application/vnd.apache.parquet",
    )
)


def _save_arrow(value: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(value, path)


def _load_arrow(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(path)


register_materializer(
    Materializer(
        name="arrow-parquet",
        types=("pyarrow.Table", "pyarrow.lib.Table"),
        save=_save_arrow,
        load=_load_arrow,
        media_type="application/vnd.apache.parquet",
    )
)


def _skops_bytes(value: Any) -> bytes:
    import skops.io as sio

    return bytes(sio.dumps(value))


def _skops_value(data: bytes) -> Any:
    """Load a model from bytes already verified against their digest; refuse untrusted types.

    Loading from memory, not a path, means no file can change between verification and load.
    """
    import skops.io as sio

    from ..core import ArtifactError

    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED_SKOPS_TYPES]
    if untrusted:
        raise ArtifactError(
            "Refusing to load a scikit-learn model: untrusted types: "
            f"{', '.join(sorted(untrusted))}.",
            hint="Only models made of trusted types load; nothing was executed.",
        )
    return sio.loads(data, trusted=list(TRUSTED_SKOPS_TYPES) or None)


def _save_skops(value: Any, path: Path) -> None:
    path.write_bytes(_skops_bytes(value))


def _load_skops(path: Path) -> Any:
    return _skops_value(path.read_bytes())


register_materializer(
    Materializer(
        name="skops",
        types=("sklearn.base.BaseEstimator",),
        save=_save_skops,
        load=_load_skops,
        media_type="application/x-skops",
        to_bytes=_skops_bytes,
        from_bytes=_skops_value,
    )
)
