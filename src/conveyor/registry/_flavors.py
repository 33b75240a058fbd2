"""Model formats (flavors): how a fitted object becomes one file, and comes back.

- ``sklearn``: skops, for scikit-learn estimators and pipelines. A file whose types are
  all in skops' trusted set loads; one with other types (``sklearn.tree._tree.Tree`` in
  tree models, LightGBM inside a pipeline) loads with those trusted only if the store's
  signature verifies. Never a fallback to pickle or joblib.
- ``lightgbm``: a bare LightGBM estimator or Booster, in LightGBM's text format.
- ``xgboost``: a bare XGBoost estimator, in XGBoost's JSON format, loaded back into the
  same class.
- ``pickle``: anything else; loads only if the store's signature verifies.

Loaders take verified bytes in memory (see ``_fetch``) and the verdict on the store's
signature, which is checked before any of this runs.
"""

from __future__ import annotations

import importlib
import io
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import ArtifactError, ConfigError, InvalidValueError, UntrustedModelError
from ..pipelines import TRUSTED_SKOPS_TYPES
from ._manifest import ESTIMATORS, ModelManifest

FILE_NAMES = {
    "sklearn": "model.skops",
    "lightgbm": "model.txt",
    "xgboost": "model.json",
    "pickle": "model.pkl",
}
_EXTRAS = {"skops": "ml", "sklearn": "ml", "lightgbm": "lightgbm", "xgboost": "xgboost"}
_PICKLE_PROTOCOL = 5
_ZIP = b"PK\x03\x04"
_GZIP = b"\x1f\x8b"


@dataclass(frozen=True)
class Saved:
    """What saving wrote, for the manifest."""

    file: str
    estimator: str | None = None
    classes: list[Any] | None = None
    model_type: str = ""
    libraries: dict[str, str] = field(default_factory=dict)


def require(library: str) -> Any:
    """Import ``library`` (a format's library), or name the extra that installs it.

    Raises:
        ConfigError: it is not installed.
    """
    try:
        return importlib.import_module(library)
    except ImportError:
        extra = _EXTRAS.get(library, library)
        raise ConfigError(
            f"This model needs {library}, which is not installed.",
            hint=f"Install it with: pip install 'conveyor[{extra}]'",
            library=library,
        ) from None


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def native_flavor(model: Any) -> str | None:
    """``lightgbm`` or ``xgboost`` for a bare estimator of theirs that the format restores."""
    cls = type(model)
    for flavor, names in ESTIMATORS.items():
        if cls.__module__.split(".")[0] == flavor and cls.__name__ in names:
            return flavor
    return None


def detect_flavor(model: Any) -> str:
    """The flavor a fitted object is stored in when none is asked for."""
    native = native_flavor(model)
    if native is not None:
        return native
    if "sklearn.base.BaseEstimator" in {_qualname(k) for k in type(model).__mro__}:
        return "sklearn"
    return "pickle"


def check_flavor(flavor: str, model: Any) -> None:
    """Raise :class:`InvalidValueError` if ``model`` cannot be stored as ``flavor``."""
    if flavor in ESTIMATORS and native_flavor(model) != flavor:
        raise InvalidValueError(
            f"Flavor {flavor!r} stores a bare {flavor} estimator "
            f"({', '.join(ESTIMATORS[flavor])}); got a {_qualname(type(model))}.",
            hint="Leave flavor unset to choose by type (skops for scikit-learn pipelines).",
            flavor=flavor,
        )


def save(flavor: str, model: Any, directory: Path) -> Saved:
    """Write ``model`` into ``directory`` as ``flavor``; return what the manifest needs.

    Raises:
        InvalidValueError: the model cannot be written in that format (say, not fitted).
        ConfigError: the format's library is not installed.
    """
    path = directory / FILE_NAMES[flavor]
    model_type = _qualname(type(model))
    try:
        if flavor == "sklearn":
            sio = require("skops.io")
            path.write_bytes(bytes(sio.dumps(model)))
            return Saved(path.name, model_type=model_type, libraries=_versions("sklearn", "skops"))
        if flavor == "lightgbm":
            return _save_lightgbm(model, path, model_type)
        if flavor == "xgboost":
            model.save_model(str(path))
            return Saved(
                path.name,
                estimator=type(model).__name__,
                model_type=model_type,
                libraries=_versions("xgboost"),
            )
        path.write_bytes(pickle.dumps(model, protocol=_PICKLE_PROTOCOL))
        return Saved(path.name, model_type=model_type)
    except (ConfigError, InvalidValueError):
        raise
    except Exception as exc:
        raise InvalidValueError(
            f"Could not store the {model_type} in the {flavor!r} format: "
            f"{type(exc).__name__}: {exc}.",
            hint="Register a fitted model; pass flavor='pickle' for objects other formats "
            "cannot hold.",
            flavor=flavor,
        ) from exc


def _save_lightgbm(model: Any, path: Path, model_type: str) -> Saved:
    estimator = type(model).__name__
    booster = model if estimator == "Booster" else model.booster_
    classes = None
    if estimator == "LGBMClassifier":
        classes = [_label(c) for c in model.classes_.tolist()]
    path.write_text(booster.model_to_string(), encoding="utf-8")
    return Saved(
        path.name,
        estimator=estimator,
        classes=classes,
        model_type=model_type,
        libraries=_versions("lightgbm"),
    )


def _label(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    raise InvalidValueError(
        f"A LightGBM classifier's class labels must be numbers, booleans or strings to be "
        f"stored in LightGBM's format. Got {value!r}.",
        hint="Encode the target as numbers or strings, or pass flavor='pickle'.",
    )


def _versions(*libraries: str) -> dict[str, str]:
    found = {}
    for library in libraries:
        module = importlib.import_module(library)
        found["scikit-learn" if library == "sklearn" else library] = str(module.__version__)
    return found


# -- loading -------------------------------------------------------------------------------


def load(manifest: ModelManifest, data: bytes, *, signed: bool, model: str) -> Any:
    """Deserialise a model file (``data``, verified) described by ``manifest``.

    Args:
        signed: Whether the store's signature over this manifest and file verified.
        model: The version's URI, for messages.

    Raises:
        UntrustedModelError: a pickle without a valid signature; a skops file with types
            outside the trusted set and no valid signature; bytes not in the format the
            manifest names.
    """
    if manifest.flavor == "sklearn":
        return _load_skops(data, signed=signed, model=model)
    if manifest.flavor == "pickle":
        if not signed:
            raise UntrustedModelError(
                f"Refusing to load {model}: unsigned pickle. A pickle runs code as it loads, "
                "so conveyor loads one only if the store signed it at registration; this one "
                "carries no valid signature. Nothing was loaded.",
                hint="Register the fitted object with conveyor.registry.register_model in a "
                "process you trust; the store signs what it serialises.",
                model=model,
            )
        return pickle.loads(data)  # the store's signature verified
    assert manifest.estimator is not None  # the schema requires one for native formats
    if manifest.flavor == "lightgbm":
        return _load_lightgbm(data, manifest, model)
    return _load_xgboost(data, manifest.estimator, model)


def _load_skops(data: bytes, *, signed: bool, model: str) -> Any:
    if not data.startswith(_ZIP):
        raise UntrustedModelError(
            f"Refusing to load {model}: its file is not a skops file (not a zip archive"
            + ("; it is a pickle" if _is_pickle(data) else "")
            + "), and conveyor never falls back to pickle or joblib: an unsigned pickle never "
            "loads. Nothing was loaded.",
            hint="Register the fitted estimator with conveyor.registry.register_model.",
            model=model,
        )
    sio = require("skops.io")
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise UntrustedModelError(
            f"Refusing to load {model}: its file is not a valid skops file ({exc}), and "
            "conveyor never falls back to pickle or joblib: an unsigned pickle never loads. "
            "Nothing was loaded.",
            hint="Register the fitted estimator with conveyor.registry.register_model.",
            model=model,
        ) from None
    untrusted = sorted(t for t in found if t not in TRUSTED_SKOPS_TYPES)
    if untrusted and not signed:
        raise UntrustedModelError(
            f"Refusing to load {model}: untrusted types: {', '.join(untrusted)}. A skops "
            "file may hold types beyond skops' trusted set only when the store signed it; "
            "this one carries no valid signature. Nothing was loaded.",
            hint="Register the fitted estimator with conveyor.registry.register_model in a "
            "process you trust; the store signs what it serialises.",
            model=model,
            untrusted=untrusted,
        )
    return sio.loads(data, trusted=list(found) or None)


def _is_pickle(data: bytes) -> bool:
    return data[:1] == b"\x80" or data.startswith(_GZIP)


def _load_lightgbm(data: bytes, manifest: ModelManifest, model: str) -> Any:
    lgb = require("lightgbm")
    from ._lightgbm import LightGBMModel

    try:
        booster = lgb.Booster(model_str=data.decode("utf-8"))
    except Exception as exc:
        raise ArtifactError(
            f"The file of {model} is not a LightGBM model ({type(exc).__name__}: {exc}).",
            hint="Register the model again.",
            model=model,
        ) from None
    return LightGBMModel(booster, manifest.estimator or "Booster", manifest.classes)


def _load_xgboost(data: bytes, estimator: str, model: str) -> Any:
    xgb = require("xgboost")
    cls = getattr(xgb, estimator)  # ``estimator`` is from the manifest schema's fixed list
    loaded = cls()
    try:
        loaded.load_model(bytearray(data))
    except Exception as exc:
        raise ArtifactError(
            f"The file of {model} is not an XGBoost {estimator} ({type(exc).__name__}: {exc}).",
            hint="Register the model again.",
            model=model,
        ) from None
    return loaded


# -- files registered from disk ------------------------------------------------------------


def sniff_file(data: bytes, *, name: str) -> str:
    """The flavor of a model file offered from disk: ``sklearn`` (a skops file whose types
    skops trusts) or ``lightgbm`` (LightGBM text). Nothing in it is loaded to decide.

    Files from disk are not signed (the store signs only what it serialised itself), so
    anything pickle-based, and skops files with untrusted types, are refused.

    Raises:
        UntrustedModelError: a pickle (plain, compressed, joblib, inside a zip), a skops
            file with untrusted types, or a format conveyor does not know.
    """
    if data.startswith(_ZIP):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = set(archive.namelist())
        except zipfile.BadZipFile:
            members = set()
        if "schema.json" not in members:
            raise _unsigned(name, "a zip archive that is not a skops file")
        _load_skops_check(data, name)
        return "sklearn"
    if data.startswith(b"tree\n"):
        return "lightgbm"
    if _is_pickle(data) or data[:2] in (b"ZF", b"x\x9c", b"x\xda"):
        raise _unsigned(name, "a pickle (plain, compressed or joblib)")
    raise _unsigned(name, "not a format conveyor loads without running code")


def _load_skops_check(data: bytes, name: str) -> None:
    sio = require("skops.io")
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise _unsigned(name, f"an invalid skops file ({exc})") from None
    untrusted = sorted(t for t in found if t not in TRUSTED_SKOPS_TYPES)
    if untrusted:
        raise UntrustedModelError(
            f"Refusing to register {name!r}: untrusted types: {', '.join(untrusted)}. A "
            "skops file from disk is not signed by the store, so only skops' trusted types "
            "may load from it. Nothing was loaded.",
            hint="Load it yourself where you trust it and pass the estimator to "
            "register_model: the store signs what it serialises.",
            untrusted=untrusted,
        )


def _unsigned(name: str, what: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"Refusing to register {name!r}: it is {what}. conveyor loads pickle-based files "
        "only when it serialised and signed them itself (unsigned pickle); from disk it "
        "takes skops files of trusted types and LightGBM text models. Nothing was loaded.",
        hint="Pass the fitted object to register_model instead of a file.",
        file=name,
    )
