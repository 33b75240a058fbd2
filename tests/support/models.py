"""Models for the registry tests: small fitted estimators, a plain Python model that only
pickle can hold, hostile payloads that create a canary file when unpickled, and a way to
plant a version directory in the store the way an attacker with write access would."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conveyor import store as st
from conveyor.lineage import put_artifact
from conveyor.registry import MANIFEST_NAME
from conveyor.workspace import Workspace


def frame(n: int = 300, *, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Three numeric features and a binary target that depends on them."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "charges": rng.normal(70.0, 20.0, n),
            "calls": rng.poisson(2.0, n).astype("int64"),
        }
    )
    score = 0.04 * X["charges"] - 0.05 * X["tenure"] + 0.3 * X["calls"] + rng.normal(0, 1, n)
    return X, pd.Series((score > score.median()).astype(int), name="churned")


class ThresholdModel:
    """A model of plain Python: only pickle stores it (flavor ``pickle``)."""

    def __init__(self, column: str, threshold: float) -> None:
        self.column = column
        self.threshold = threshold

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X[self.column] > self.threshold).to_numpy().astype(int)


class Canary:
    """Unpickling it creates ``path``: proof that a loader ran code from a model file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def payloads(canary: Path, folder: Path) -> dict[str, Path]:
    """The ten hostile model files of S02, each creating ``canary`` if ever unpickled."""
    import joblib
    import skops.io as sio

    folder.mkdir(parents=True, exist_ok=True)
    evil = pickle.dumps(Canary(canary))
    files: dict[str, bytes] = {
        "plain.pkl": evil,
        "protocol0.pkl": pickle.dumps(Canary(canary), protocol=0),
        "model.pkl.gz": gzip.compress(evil),
        "pickle-in.zip": _zip({"model.pkl": evil}),
        "renamed.skops": evil,
        "not-a-zip.skops": b"this is not a zip archive, nor a model",
    }
    joblib.dump(Canary(canary), folder / "model.joblib")
    joblib.dump(Canary(canary), folder / "compressed.joblib", compress=3)
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - installed with ray in dev
        pass
    else:
        files["cloud.pkl"] = cloudpickle.dumps(Canary(canary))
    import operator

    files["eval.skops"] = sio.dumps({"f": eval, "g": operator.attrgetter("path")})
    files["operator.skops"] = sio.dumps([operator.methodcaller("write", "x")])
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {p.name: p for p in sorted(folder.iterdir())}


def _zip(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def plant_version(
    ws: Workspace,
    name: str,
    files: Mapping[str, bytes],
    *,
    manifest: Mapping[str, Any] | bytes | None = None,
    flavor: str = "pickle",
    tags: Mapping[str, Any] | None = None,
    folder: Path,
) -> int:
    """Register a version whose directory holds ``files`` (and ``manifest``, describing the
    first file by default) straight through the store, as someone who can write the
    artifact and metadata stores but not sign could. Returns the version number."""
    folder.mkdir(parents=True)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    if manifest is None:
        first, data = next(iter(files.items()))
        import hashlib

        manifest = {
            "format": "conveyor-model/1",
            "flavor": flavor,
            "file": first,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    (folder / MANIFEST_NAME).write_bytes(raw)
    artifact = put_artifact(ws, folder, name=f"models/{name}")
    record = st.register_model_version(
        ws.store, name, artifact_id=artifact.id, flavor=flavor, tags=dict(tags or {})
    )
    return record.version


class CountingModel:
    """Appends a byte to ``path`` each time it is unpickled: counts loads."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with open(self.path, "a") as out:
            out.write("x")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(X))


def loads_counted(path: Path) -> int:
    return len(path.read_text()) if path.exists() else 0
